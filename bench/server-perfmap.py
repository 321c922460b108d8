#!/usr/bin/env python3
"""Names the wasm functions in a running policy-server for `perf report`.

policy-server (wasmtime) keeps each compiled module as an in-memory ELF image
whose .text is the guest's machine code, but it writes no perf map, so perf
shows guest code as one anonymous "[JIT] tid PID" blob. This reads each
module's ELF image out of /proc/PID/mem, takes the functions from its symbol
table, and writes /tmp/perf-PID.map (perf reads it at report time, so it can
be written after `perf record`, while the server still runs).

  bench/server-perfmap.py PID [--module NAME=WASM ...]

Symbols are wasmtime's (`wasm[0]::function[N]`, with the function's name
when the module has a name section, plus trampolines). With --module, a
module whose count of defined functions matches WASM's is labelled NAME (and
a nameless module's functions take their names from WASM's name section).
To have names, build the guest with CARGO_PROFILE_RELEASE_STRIP=false, then
`wasm-opt --strip-dwarf -g` and `wasm-opt -Oz -g` (names kept, same code as
the shipped module: DWARF would make wasm-opt optimise less), and load that
build in the server.
Needs root or ptrace rights over the server.
"""

import argparse
import re
import struct
import sys


def regions(pid):
    out = []
    for line in open(f"/proc/{pid}/maps"):
        parts = line.split()
        lo, hi = (int(x, 16) for x in parts[0].split("-"))
        out.append((lo, hi, parts[1], len(parts) == 5))
    return out


def elf_sections(mem, base):
    mem.seek(base)
    hdr = mem.read(64)
    if hdr[:4] != b"\x7fELF" or hdr[4] != 2:
        return None
    (shoff,) = struct.unpack_from("<Q", hdr, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", hdr, 0x3A)
    if not shoff or shnum > 64:
        return None
    mem.seek(base + shoff)
    raw = mem.read(shentsize * shnum)
    secs = [struct.unpack_from("<IIQQQQIIQQ", raw, k * shentsize) for k in range(shnum)]
    mem.seek(base + secs[shstrndx][4])
    names = mem.read(secs[shstrndx][5])
    result = {}
    for s in secs:
        name = names[s[0]:names.index(b"\0", s[0])].decode()
        result[name] = (s[4], s[5])  # file offset, size
    return result


def read_leb(data, pos):
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return result, pos


def wasm_names(path):
    """(number of defined functions, {function index: name}) of a module."""
    data = open(path, "rb").read()
    pos, imported, defined, names = 8, 0, 0, {}
    while pos < len(data):
        sid = data[pos]
        size, pos = read_leb(data, pos + 1)
        end = pos + size
        if sid == 2:  # imports
            count, p = read_leb(data, pos)
            for _ in range(count):
                for _ in range(2):
                    n, p = read_leb(data, p)
                    p += n
                kind = data[p]
                p += 1
                if kind == 0:
                    imported += 1
                    _, p = read_leb(data, p)
                else:
                    break  # only functions are imported by the guests here
        elif sid == 3:
            defined, _ = read_leb(data, pos)
        elif sid == 0:
            n, p = read_leb(data, pos)
            if data[p:p + n] == b"name":
                p += n
                while p < end:
                    sub = data[p]
                    sub_size, p = read_leb(data, p + 1)
                    if sub == 1:
                        count, q = read_leb(data, p)
                        for _ in range(count):
                            index, q = read_leb(data, q)
                            length, q = read_leb(data, q)
                            names[index] = data[q:q + length].decode(errors="replace")
                            q += length
                    p += sub_size
        pos = end
    return defined, imported, names


def demangle(name):
    """Rust's legacy mangling (_ZN...E) to a path without its hash; other names as they are."""
    if not (name.startswith("_ZN") and name.endswith("E")):
        return name
    parts, pos = [], 3
    try:
        while name[pos] != "E":
            digits = pos
            while name[pos].isdigit():
                pos += 1
            length = int(name[digits:pos])
            parts.append(name[pos:pos + length])
            pos += length
    except (IndexError, ValueError):
        return name
    if parts and re.fullmatch(r"h[0-9a-f]{16}", parts[-1]):
        parts.pop()
    text = "::".join(parts)
    for code, char in (("$LT$", "<"), ("$GT$", ">"), ("$u20$", " "), ("$RF$", "&"), ("$C$", ","),
                       ("$BP$", "*"), ("$u27$", "'"), ("$u5b$", "["), ("$u5d$", "]"), ("..", "::")):
        text = text.replace(code, char)
    return text


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pid", type=int)
    parser.add_argument("--module", action="append", default=[], metavar="NAME=WASM")
    args = parser.parse_args()
    known = []
    for spec in args.module:
        name, path = spec.split("=", 1)
        known.append((name,) + wasm_names(path))

    executable = {lo: hi for lo, hi, perms, anon in regions(args.pid) if perms == "r-xp" and anon}
    lines = []
    with open(f"/proc/{args.pid}/mem", "rb") as mem:
        # An image's header page is just below its .text (wasmtime aligns
        # .text to a page), though the kernel may merge that page's mapping
        # with the one before it: look a few pages down from each code region.
        for text in sorted(executable):
            for pages in range(1, 5):
                lo = text - pages * 4096
                try:
                    secs = elf_sections(mem, lo)
                except OSError:
                    secs = None
                if secs and ".text" in secs and ".symtab" in secs and lo + secs[".text"][0] == text:
                    break
            else:
                continue
            text_off, text_size = secs[".text"]
            sym_off, sym_size = secs[".symtab"]
            str_off, str_size = secs[".strtab"]
            mem.seek(lo + sym_off)
            syms = mem.read(sym_size)
            mem.seek(lo + str_off)
            strtab = mem.read(str_size)
            funcs = []
            for k in range(0, len(syms), 24):
                st_name, st_info, _, _, st_value, st_size = struct.unpack_from("<IBBHQQ", syms, k)
                if st_info & 0xF != 2 or not st_size:  # STT_FUNC
                    continue
                name = strtab[st_name:strtab.index(b"\0", st_name)].decode(errors="replace")
                funcs.append((st_value, st_size, name))
            pattern = re.compile(r"wasm\[\d+\]::function\[(\d+)\](?:::(.*))?")
            defined = sum(1 for f in funcs if pattern.fullmatch(f[2]))
            label, imported, names = f"module@{text:x}", 0, {}
            for name, count, imp, table in known:
                if count == defined:
                    label, imported, names = name, imp, table
            for value, size, name in funcs:
                m = pattern.fullmatch(name)
                if m:
                    index = int(m.group(1))
                    own = m.group(2) or names.get(index) or f"function[{index}]"
                    name = f"[{label}] {demangle(own)}"
                else:
                    name = f"[{label}] {name}"
                lines.append(f"{text + value:x} {size:x} {name}")
            print(f"{label}: {defined} functions, .text {text_size} bytes at {text:#x}", file=sys.stderr)
    path = f"/tmp/perf-{args.pid}.map"
    with open(path, "w") as out:
        out.write("\n".join(lines) + "\n")
    print(path)


if __name__ == "__main__":
    main()
