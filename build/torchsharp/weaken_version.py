"""Marks the GLIBCXX_3.4.32 requirement of an ELF shared library weak (VER_FLG_WEAK), so the loader accepts an older libstdc++."""
import struct, sys
path, wanted = sys.argv[1], sys.argv[2].encode()
data = bytearray(open(path, 'rb').read())
assert data[:4] == b'\x7fELF' and data[4] == 2 and data[5] == 1, "64-bit little-endian ELF only"
shoff, = struct.unpack_from('<Q', data, 0x28)
shentsize, shnum, shstrndx = struct.unpack_from('<HHH', data, 0x3A)
sections = [struct.unpack_from('<IIQQQQIIQQ', data, shoff + i * shentsize) for i in range(shnum)]
SHT_GNU_verneed = 0x6ffffffe
changed = 0
for name, stype, flags, addr, offset, size, link, info, align, entsize in sections:
    if stype != SHT_GNU_verneed:
        continue
    strtab = sections[link][4]
    def string(at):
        end = data.index(b'\0', strtab + at)
        return bytes(data[strtab + at:end])
    entry = offset
    for _ in range(info):
        vn_version, vn_cnt, vn_file, vn_aux, vn_next = struct.unpack_from('<HHIII', data, entry)
        aux = entry + vn_aux
        for _ in range(vn_cnt):
            vna_hash, vna_flags, vna_other, vna_name, vna_next = struct.unpack_from('<IHHII', data, aux)
            if string(vna_name) == wanted and not vna_flags & 2:
                struct.pack_into('<H', data, aux + 4, vna_flags | 2)
                changed += 1
            aux += vna_next
        if not vn_next:
            break
        entry += vn_next
open(path, 'wb').write(data)
print(f"{path}: {changed} requirement(s) of {wanted.decode()} marked weak")
