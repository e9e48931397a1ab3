// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320, the zlib/PNG/gzip variant) used
// as the integrity trailer of .qatm model files. crc32("123456789") == 0xCBF43926.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace qat::detail {

inline constexpr std::array<uint32_t, 256> kCrc32Table = [] {
    std::array<uint32_t, 256> table{};
    for (uint32_t i = 0; i < 256; ++i) {
        uint32_t c = i;
        for (int k = 0; k < 8; ++k)
            c = (c & 1u) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        table[i] = c;
    }
    return table;
}();

// Continues a running CRC: crc32(b, crc32(a)) == crc32(a + b). Start with 0.
inline uint32_t crc32(const void* data, size_t size, uint32_t crc = 0) {
    const auto* p = static_cast<const unsigned char*>(data);
    crc = ~crc;
    for (size_t i = 0; i < size; ++i)
        crc = kCrc32Table[(crc ^ p[i]) & 0xFFu] ^ (crc >> 8);
    return ~crc;
}

} // namespace qat::detail
