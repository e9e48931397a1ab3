// Reads the float32 .npy files written by make_onnx_fixtures.py (numpy format 1.0/2.0,
// little-endian '<f4', C order). Enough for golden data; not a general .npy reader.
#pragma once

#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

namespace qat::testing {

struct NpyArray {
    std::vector<int64_t> shape;
    std::vector<float> data;
};

inline std::optional<NpyArray> readNpy(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0)
        return std::nullopt;
    const int major = static_cast<uint8_t>(bytes[6]);
    size_t headerLen = 0, offset = 0;
    if (major == 1) {
        headerLen = static_cast<uint8_t>(bytes[8]) |
                    static_cast<size_t>(static_cast<uint8_t>(bytes[9])) << 8;
        offset = 10;
    } else {
        if (bytes.size() < 12)
            return std::nullopt;
        uint32_t len;
        std::memcpy(&len, bytes.data() + 8, 4);
        headerLen = len;
        offset = 12;
    }
    if (bytes.size() < offset + headerLen)
        return std::nullopt;
    const std::string header = bytes.substr(offset, headerLen);
    if (header.find("'descr': '<f4'") == std::string::npos ||
        header.find("'fortran_order': False") == std::string::npos)
        return std::nullopt;
    const size_t open = header.find('(', header.find("'shape'"));
    const size_t close = header.find(')', open);
    if (open == std::string::npos || close == std::string::npos)
        return std::nullopt;
    NpyArray array;
    std::string dims = header.substr(open + 1, close - open - 1);
    size_t pos = 0;
    while (pos < dims.size()) {
        const size_t comma = dims.find(',', pos);
        const std::string part =
            dims.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
        if (part.find_first_of("0123456789") != std::string::npos)
            array.shape.push_back(std::stoll(part));
        if (comma == std::string::npos)
            break;
        pos = comma + 1;
    }
    int64_t count = 1;
    for (int64_t d : array.shape)
        count *= d;
    const size_t dataOffset = offset + headerLen;
    if (bytes.size() - dataOffset != static_cast<size_t>(count) * 4)
        return std::nullopt;
    array.data.resize(static_cast<size_t>(count));
    std::memcpy(array.data.data(), bytes.data() + dataOffset, static_cast<size_t>(count) * 4);
    return array;
}

} // namespace qat::testing
