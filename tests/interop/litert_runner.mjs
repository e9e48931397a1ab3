// QAT Lab interop harness: runs a .tflite file in LiteRT.js (@litertjs/core, the official
// LiteRT runtime compiled to WASM with XNNPACK) under plain Node.js 20.
//
//   node litert_runner.mjs MODEL.tflite INPUT.bin OUTPUT.bin
//
// INPUT.bin holds N samples of the model's single input as raw little-endian values in the
// input's dtype (float32, int8, uint8 or int32), samples back to back. N must be a multiple
// of the input's batch dimension; a batch-1 model is run once per sample. OUTPUT.bin
// receives the model's single output for every run, concatenated, raw. One JSON line on
// stdout describes the run (runtime version, tensors, sample count) or the error; the exit
// status is 0 on success, 1 on error, 2 on bad usage.
//
// The package targets browsers; two adaptations make it run in Node, both in memory (the
// installed package is never modified):
//  * loader: LiteRT.js loads its Emscripten glue with importScripts() (workers) or a
//    <script> tag. We provide importScripts() that evaluates the glue in this context and
//    hands Emscripten the .wasm bytes shipped in the package, so nothing is fetched.
//  * int8: @litertjs/core 2.5.3 maps only float32/int32/uint8 tensors to typed arrays
//    ("Element type INT8 is not supported"). We import its dist/index.js from a data: URL
//    with an int8 row (TFLite element type 9) added to that table.
import fs from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';
import {createRequire} from 'node:module';
import {fileURLToPath, pathToFileURL} from 'node:url';

const require = createRequire(import.meta.url);
const corePackageDir = path.dirname(require.resolve('@litertjs/core/package.json'));
const coreVersion = JSON.parse(
    fs.readFileSync(path.join(corePackageDir, 'package.json'), 'utf8')).version;
const wasmDir = path.join(corePackageDir, 'wasm') + path.sep;

// Keep stdout for our one JSON line; the runtime logs INFO lines through console.*.
const writeStdout = (line) => new Promise((resolve) => process.stdout.write(line + '\n', resolve));
console.log = console.info = console.warn = console.debug = (...args) => console.error(...args);

function installNodeLoader() {
  globalThis.self = globalThis;
  // The Emscripten glue detects Node and calls require(); ES modules have none.
  globalThis.require = require;
  globalThis.__dirname = wasmDir;
  globalThis.__filename = path.join(wasmDir, 'litert_wasm_internal.js');
  globalThis.importScripts = (url) => {
    const file = String(url).startsWith('file:') ? fileURLToPath(String(url)) : String(url);
    vm.runInThisContext(fs.readFileSync(file, 'utf8'), {filename: file});
    // Read by the package's wasm loader as the Emscripten module options.
    globalThis.Module = {
      locateFile: (name) => path.join(wasmDir, name),
      wasmBinary: fs.readFileSync(file.replace(/\.js$/, '.wasm')),
    };
  };
}

async function importCoreWithInt8() {
  let source = fs.readFileSync(path.join(corePackageDir, 'dist', 'index.js'), 'utf8');
  const utilsUrl = pathToFileURL(require.resolve('@litertjs/wasm-utils')).href;
  const importFrom = 'from "@litertjs/wasm-utils"';
  const table = 'var DATATYPES = Object.freeze([';
  if (!source.includes(importFrom) || !source.includes(table)) {
    throw new Error(`@litertjs/core ${coreVersion}: dist/index.js has an unexpected layout; ` +
                    'this runner was written for 2.5.3');
  }
  source = source.replace(importFrom, `from ${JSON.stringify(utilsUrl)}`);
  source = source.replace(
      table, table + '{dtype: "int8", typedArrayConstructor: Int8Array, elementType: 9},');
  source = source.replace(/\/\/# sourceMappingURL=.*$/m, '');
  const url = 'data:text/javascript;base64,' + Buffer.from(source, 'utf8').toString('base64');
  return import(url);
}

const TYPED_ARRAYS = {
  float32: Float32Array,
  int8: Int8Array,
  uint8: Uint8Array,
  int32: Int32Array,
};

function describe(details) {
  return {name: details.name, dtype: details.dtype, shape: Array.from(Object.values(details.shape))};
}

async function main(argv) {
  if (argv.length !== 3) {
    console.error('usage: node litert_runner.mjs MODEL.tflite INPUT.bin OUTPUT.bin');
    process.exit(2);
  }
  const [modelPath, inputPath, outputPath] = argv;
  installNodeLoader();
  const litert = await importCoreWithInt8();
  await litert.loadLiteRt(wasmDir);
  const model = await litert.loadAndCompile(new Uint8Array(fs.readFileSync(modelPath)),
                                            {accelerator: 'wasm'});
  const inputs = model.getInputDetails();
  const outputs = model.getOutputDetails();
  if (inputs.length !== 1 || outputs.length !== 1) {
    throw new Error(`expected a model with one input and one output, ${modelPath} has ` +
                    `${inputs.length} inputs and ${outputs.length} outputs`);
  }
  const input = describe(inputs[0]);
  const output = describe(outputs[0]);
  const InputArray = TYPED_ARRAYS[input.dtype];
  if (!InputArray) throw new Error(`input dtype ${input.dtype} is not supported by this runner`);

  const perRun = input.shape.reduce((a, b) => a * b, 1);
  const batch = input.shape.length > 0 ? input.shape[0] : 1;
  const raw = fs.readFileSync(inputPath);
  const runBytes = perRun * InputArray.BYTES_PER_ELEMENT;
  if (raw.length === 0 || raw.length % runBytes !== 0) {
    throw new Error(`${inputPath}: ${raw.length} bytes is not a whole number of ` +
                    `${input.dtype}[${input.shape.join(',')}] inputs (${runBytes} bytes each)`);
  }
  const runs = raw.length / runBytes;
  const chunks = [];
  for (let r = 0; r < runs; ++r) {
    const values = new InputArray(perRun);
    new Uint8Array(values.buffer).set(raw.subarray(r * runBytes, (r + 1) * runBytes));
    const tensor = new litert.Tensor(values, input.shape);
    const results = await model.run([tensor]);
    tensor.delete();
    for (const result of results) {
      const onCpu = result.accelerator === 'wasm' ? result : await result.moveTo('wasm');
      const array = onCpu.toTypedArray();
      chunks.push(Buffer.from(array.buffer.slice(array.byteOffset,
                                                 array.byteOffset + array.byteLength)));
      onCpu.delete();
      if (onCpu !== result) result.delete();
    }
  }
  fs.writeFileSync(outputPath, Buffer.concat(chunks));
  await writeStdout(JSON.stringify({
    runtime: `@litertjs/core ${coreVersion} (LiteRT WASM + XNNPACK, node ${process.version})`,
    input,
    output,
    runs,
    samples: runs * batch,
  }));
}

main(process.argv.slice(2)).then(() => process.exit(0)).catch(async (error) => {
  await writeStdout(JSON.stringify({
    runtime: `@litertjs/core ${coreVersion}`,
    error: String((error && error.stack) || error),
  }));
  process.exit(1);
});
