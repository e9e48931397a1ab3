// PNG (libpng) and JPEG (libjpeg-turbo) decoding from memory. Both libraries report
// errors by longjmp: libpng from png_error, libjpeg from error_exit. Every setjmp lives in
// a small C-style function (the *Step functions) whose frame holds only trivially
// destructible locals, and the library calls that can fail happen only inside them, so a
// longjmp never skips a C++ destructor. The C++ callers own the library state through
// guards and allocate the pixel buffers between the steps.
#include "image_decode.h"

#include <png.h>

#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <jpeglib.h>
// after jpeglib.h, which it needs
#include <jerror.h>

namespace qat::datasets {

namespace {

constexpr size_t kMessageBytes = 256;

std::string sizeText(uint64_t w, uint64_t h) {
    return std::to_string(w) + "x" + std::to_string(h);
}

Status tooLarge(uint64_t w, uint64_t h, int maxSide) {
    return Status::error("image is " + sizeText(w, h) + ", larger than the " +
                         std::to_string(maxSide) + " pixel limit per side; scale it down");
}

// ---- PNG -------------------------------------------------------------------------------

// Shared with libpng's callbacks; trivially destructible, so it may live across setjmp.
struct PngReader {
    png_structp png = nullptr;
    png_infop info = nullptr;
    const uint8_t* data = nullptr;
    size_t size = 0;
    size_t offset = 0;
    char message[kMessageBytes] = {};
};

struct PngHeader {
    png_uint_32 width = 0;
    png_uint_32 height = 0;
    int bitDepth = 0;
    int colorType = 0;
    int channels = 0; // after the transforms
    size_t rowBytes = 0;
};

extern "C" {

// libpng's default handler prints to stderr; we keep the text for the Status instead.
static void pngErrorFn(png_structp png, png_const_charp msg) {
    auto* r = static_cast<PngReader*>(png_get_error_ptr(png));
    std::snprintf(r->message, sizeof r->message, "%s", msg);
    png_longjmp(png, 1);
}

// Warnings (bad ancillary chunks, unknown profiles) do not affect the pixels.
static void pngWarningFn(png_structp /*png*/, png_const_charp /*msg*/) {}

static void pngReadFn(png_structp png, png_bytep out, png_size_t n) {
    auto* r = static_cast<PngReader*>(png_get_io_ptr(png));
    if (n > r->size - r->offset)
        png_error(png, "unexpected end of data (the file is truncated)");
    std::memcpy(out, r->data + r->offset, n);
    r->offset += n;
}

} // extern "C"

// Reads the header and sets the transforms: palette -> RGB, low-bit gray -> 8 bits,
// alpha (and tRNS transparency, never expanded) dropped, interlacing undone. 16-bit
// samples stay 16-bit. Returns false with r->message set on error.
bool pngHeaderStep(PngReader* r, PngHeader* h) {
    if (setjmp(png_jmpbuf(r->png)))
        return false;
    png_read_info(r->png, r->info);
    h->width = png_get_image_width(r->png, r->info);
    h->height = png_get_image_height(r->png, r->info);
    h->bitDepth = png_get_bit_depth(r->png, r->info);
    h->colorType = png_get_color_type(r->png, r->info);
    if (h->colorType == PNG_COLOR_TYPE_PALETTE)
        png_set_palette_to_rgb(r->png);
    if (h->colorType == PNG_COLOR_TYPE_GRAY && h->bitDepth < 8)
        png_set_expand_gray_1_2_4_to_8(r->png);
    if ((h->colorType & PNG_COLOR_MASK_ALPHA) != 0)
        png_set_strip_alpha(r->png);
    png_set_interlace_handling(r->png);
    png_read_update_info(r->png, r->info);
    h->channels = png_get_channels(r->png, r->info);
    h->bitDepth = png_get_bit_depth(r->png, r->info);
    h->rowBytes = png_get_rowbytes(r->png, r->info);
    return true;
}

bool pngPixelsStep(PngReader* r, png_bytepp rows) {
    if (setjmp(png_jmpbuf(r->png)))
        return false;
    png_read_image(r->png, rows);
    png_read_end(r->png, nullptr);
    return true;
}

class PngGuard {
public:
    explicit PngGuard(PngReader& r) : m_r(r) {}
    ~PngGuard() { png_destroy_read_struct(&m_r.png, m_r.info ? &m_r.info : nullptr, nullptr); }
    PngGuard(const PngGuard&) = delete;
    PngGuard& operator=(const PngGuard&) = delete;

private:
    PngReader& m_r;
};

Result<DecodedImage> decodePng(const uint8_t* data, size_t size, int maxSide) {
    PngReader r;
    r.data = data;
    r.size = size;
    r.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &r, pngErrorFn, pngWarningFn);
    if (!r.png)
        return Status::error("cannot initialize libpng (out of memory)");
    PngGuard guard(r);
    r.info = png_create_info_struct(r.png);
    if (!r.info)
        return Status::error("cannot initialize libpng (out of memory)");
    png_set_read_fn(r.png, &r, pngReadFn);

    PngHeader h;
    if (!pngHeaderStep(&r, &h))
        return Status::error(std::string("corrupt PNG: ") + r.message);
    if (h.width > static_cast<png_uint_32>(maxSide) || h.height > static_cast<png_uint_32>(maxSide))
        return tooLarge(h.width, h.height, maxSide);
    if ((h.channels != 1 && h.channels != 3) || (h.bitDepth != 8 && h.bitDepth != 16))
        return Status::error("unsupported PNG layout (" + std::to_string(h.channels) +
                             " channels of " + std::to_string(h.bitDepth) + " bits)");

    DecodedImage img;
    img.width = static_cast<int>(h.width);
    img.height = static_cast<int>(h.height);
    img.channels = h.channels;
    img.sixteenBit = h.bitDepth == 16;
    const size_t rowBytes = static_cast<size_t>(img.width) * static_cast<size_t>(img.channels) *
                            (img.sixteenBit ? 2 : 1);
    if (h.rowBytes != rowBytes)
        return Status::error("unsupported PNG layout (row of " + std::to_string(h.rowBytes) +
                             " bytes, expected " + std::to_string(rowBytes) + ")");
    img.pixels.resize(rowBytes * h.height);
    std::vector<png_bytep> rows(h.height);
    for (size_t y = 0; y < rows.size(); ++y)
        rows[y] = img.pixels.data() + y * rowBytes;
    if (!pngPixelsStep(&r, rows.data()))
        return Status::error(std::string("corrupt PNG: ") + r.message);
    return img;
}

// ---- JPEG ------------------------------------------------------------------------------

// Trivially destructible (libjpeg's structs are plain C), so it may live across setjmp.
struct JpegReader {
    jpeg_decompress_struct cinfo;
    jpeg_error_mgr err;
    std::jmp_buf jump;
    bool created;
    char message[JMSG_LENGTH_MAX];
};

extern "C" {

static void jpegErrorExitFn(j_common_ptr cinfo) {
    auto* r = static_cast<JpegReader*>(cinfo->client_data);
    (*cinfo->err->format_message)(cinfo, r->message);
    std::longjmp(r->jump, 1);
}

// libjpeg treats running out of data as a warning and pads the image with gray; for a
// dataset that is a truncated file, so it is an error. Other warnings (such as extraneous
// bytes before a marker) leave the pixels intact and are ignored, as image viewers do.
static void jpegEmitMessageFn(j_common_ptr cinfo, int level) {
    if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF) {
        auto* r = static_cast<JpegReader*>(cinfo->client_data);
        std::snprintf(r->message, sizeof r->message,
                      "unexpected end of data (the file is truncated)");
        std::longjmp(r->jump, 1);
    }
}

} // extern "C"

bool jpegHeaderStep(JpegReader* r, const uint8_t* data, size_t size) {
    if (setjmp(r->jump))
        return false;
    r->created = true;
    jpeg_create_decompress(&r->cinfo);
    jpeg_mem_src(&r->cinfo, data, static_cast<unsigned long>(size));
    jpeg_read_header(&r->cinfo, TRUE);
    return true;
}

// Gray JPEGs stay gray; everything else is converted to RGB by libjpeg (CMYK cannot be,
// and fails with libjpeg's "Unsupported color conversion request").
bool jpegStartStep(JpegReader* r) {
    if (setjmp(r->jump))
        return false;
    r->cinfo.out_color_space = r->cinfo.jpeg_color_space == JCS_GRAYSCALE ? JCS_GRAYSCALE : JCS_RGB;
    r->cinfo.dct_method = JDCT_ISLOW; // exact, and identical on every platform
    jpeg_start_decompress(&r->cinfo);
    return true;
}

bool jpegPixelsStep(JpegReader* r, uint8_t* dst, size_t rowBytes) {
    if (setjmp(r->jump))
        return false;
    while (r->cinfo.output_scanline < r->cinfo.output_height) {
        JSAMPROW row = dst + static_cast<size_t>(r->cinfo.output_scanline) * rowBytes;
        jpeg_read_scanlines(&r->cinfo, &row, 1);
    }
    jpeg_finish_decompress(&r->cinfo);
    return true;
}

class JpegGuard {
public:
    explicit JpegGuard(JpegReader& r) : m_r(r) {}
    ~JpegGuard() {
        if (m_r.created)
            jpeg_destroy_decompress(&m_r.cinfo);
    }
    JpegGuard(const JpegGuard&) = delete;
    JpegGuard& operator=(const JpegGuard&) = delete;

private:
    JpegReader& m_r;
};

Result<DecodedImage> decodeJpeg(const uint8_t* data, size_t size, int maxSide) {
    JpegReader r;
    std::memset(&r, 0, sizeof r);
    r.cinfo.err = jpeg_std_error(&r.err);
    r.err.error_exit = jpegErrorExitFn;
    r.err.emit_message = jpegEmitMessageFn;
    r.cinfo.client_data = &r;
    JpegGuard guard(r);

    if (!jpegHeaderStep(&r, data, size))
        return Status::error(std::string("corrupt JPEG: ") + r.message);
    if (r.cinfo.image_width > static_cast<JDIMENSION>(maxSide) ||
        r.cinfo.image_height > static_cast<JDIMENSION>(maxSide))
        return tooLarge(r.cinfo.image_width, r.cinfo.image_height, maxSide);
    if (!jpegStartStep(&r))
        return Status::error(std::string("corrupt JPEG: ") + r.message);
    DecodedImage img;
    img.width = static_cast<int>(r.cinfo.output_width);
    img.height = static_cast<int>(r.cinfo.output_height);
    img.channels = r.cinfo.output_components;
    if (img.channels != 1 && img.channels != 3)
        return Status::error("unsupported JPEG layout (" + std::to_string(img.channels) +
                             " components)");
    const size_t rowBytes = static_cast<size_t>(img.width) * static_cast<size_t>(img.channels);
    img.pixels.resize(rowBytes * static_cast<size_t>(img.height));
    if (!jpegPixelsStep(&r, img.pixels.data(), rowBytes))
        return Status::error(std::string("corrupt JPEG: ") + r.message);
    return img;
}

bool rgbIsGray(const DecodedImage& img) {
    const size_t sample = img.sixteenBit ? 2 : 1;
    const size_t pixel = 3 * sample;
    const uint8_t* p = img.pixels.data();
    for (size_t i = 0; i + pixel <= img.pixels.size(); i += pixel)
        if (std::memcmp(p + i, p + i + sample, sample) != 0 ||
            std::memcmp(p + i, p + i + 2 * sample, sample) != 0)
            return false;
    return true;
}

} // namespace

ImageFormat detectImageFormat(const uint8_t* data, size_t size) {
    static constexpr uint8_t kPngMagic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (size >= sizeof kPngMagic && std::memcmp(data, kPngMagic, sizeof kPngMagic) == 0)
        return ImageFormat::Png;
    if (size >= 3 && data[0] == 0xff && data[1] == 0xd8 && data[2] == 0xff)
        return ImageFormat::Jpeg;
    return ImageFormat::Unknown;
}

Result<DecodedImage> decodeImage(const uint8_t* data, size_t size, int maxSide) {
    const ImageFormat format = detectImageFormat(data, size);
    if (format == ImageFormat::Unknown)
        return Status::error(size == 0 ? "the file is empty"
                                       : "not a PNG or JPEG file (unrecognized first bytes)");
    auto img = format == ImageFormat::Png ? decodePng(data, size, maxSide)
                                          : decodeJpeg(data, size, maxSide);
    if (!img)
        return img;
    if (img->width <= 0 || img->height <= 0)
        return Status::error("image has no pixels (" + sizeText(img->width, img->height) + ")");
    img->allGray = img->channels == 1 || rgbIsGray(img.value());
    return img;
}

} // namespace qat::datasets
