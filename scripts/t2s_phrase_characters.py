#!/usr/bin/env python3
"""Writes Sources/FanzhaText/T2SPhraseData.swift: the characters whose Traditional → Simplified
conversion can depend on the phrase they stand in (FanzhaText/T2STable.swift, `needsPhrases`),
and the dictionary keys behind them (`holdsPhraseKey`).

OpenCC's t2s converts a line as a sequence of pieces: each a key of TSPhrases or TSCharacters
(longest match), turned into that key's first value, or a character of neither, kept as it is.
A key whose value differs from its characters converted one by one (by the committed table,
T2SData.swift) marks the characters where they differ (all of the key's when the lengths
differ). A line holding none of the marked characters converts piece by piece exactly as the
table converts it character by character, so the normaliser can skip OpenCC on it. Nor can a
line holding none of those differing keys: each of its pieces is then a key whose value is its
table conversion, or a character of neither dictionary, which the table keeps too. So the keys
are written as well, and OpenCC is opened only for a line that holds one.

Reads the installed dictionaries (/usr/share/opencc/*.ocd2) with a small C++ program against
libopencc-dev (OpenCC's C API cannot list a dictionary). Run after an OpenCC upgrade, after
regenerating T2SData.swift (T2SDataTests): `scripts/t2s_phrase_characters.py`.
"""
import os, re, subprocess, sys, tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DUMP = r"""
#include <opencc/MarisaDict.hpp>
#include <opencc/Lexicon.hpp>
#include <cstdio>
#include <iostream>
int main(int argc, char** argv) {
  FILE* fp = fopen(argv[1], "rb");
  if (!fp) return 1;
  auto dict = opencc::MarisaDict::NewFromFile(fp);
  for (const auto& e : *dict->GetLexicon()) std::cout << e->Key() << "\t" << e->GetDefault() << "\n";
}
"""


def entries(tool, name):
    out = subprocess.run([tool, f"/usr/share/opencc/{name}.ocd2"], capture_output=True, check=True).stdout
    return [line.split("\t") for line in out.decode("utf-8").split("\n") if line]


def main():
    config = open("/usr/share/opencc/t2s.json").read()
    if "TSPhrases.ocd2" not in config or "TSCharacters.ocd2" not in config:
        sys.exit("t2s.json no longer reads TSPhrases and TSCharacters: review this derivation")
    source = open(os.path.join(ROOT, "Sources/FanzhaText/T2SData.swift"), encoding="utf-8").read()
    pairs = re.search(r'static let pairs = "(.*)"', source).group(1)
    table = {pairs[i]: pairs[i + 1] for i in range(0, len(pairs), 2)}
    with tempfile.TemporaryDirectory() as tmp:
        cpp, tool = os.path.join(tmp, "dump.cpp"), os.path.join(tmp, "dump")
        open(cpp, "w").write(DUMP)
        subprocess.run(["c++", "-std=c++17", "-O1", cpp, "-o", tool, "-lopencc"], check=True)
        keys = entries(tool, "TSPhrases") + entries(tool, "TSCharacters")
    marked = set()
    differing = set()
    for key, value in keys:
        by_table = "".join(table.get(c, c) for c in key)
        if value == by_table:
            continue
        differing.add(key)
        if len(value) != len(key):
            marked |= set(key)
        else:
            marked |= {k for k, v, t in zip(key, value, by_table) if v != t}
    chars = "".join(sorted(marked))
    assert all(k and " " not in k and '"' not in k and "\\" not in k for k in differing)
    phrase_keys = " ".join(sorted(differing))
    path = os.path.join(ROOT, "Sources/FanzhaText/T2SPhraseData.swift")
    with open(path, "w", encoding="utf-8") as f:
        f.write("// Generated from OpenCC's t2s dictionaries by scripts/t2s_phrase_characters.py; do not edit by hand.\n"
                "enum T2SPhraseData {\n"
                "    /// The characters whose conversion can depend on their phrase (T2STable.needsPhrases).\n"
                f'    static let characters = "{chars}"\n'
                "    /// The keys whose value differs from the key converted character by character by the\n"
                "    /// table, separated by spaces (T2STable.holdsPhraseKey).\n"
                f'    static let keys = "{phrase_keys}"\n'
                "}\n")
    print(f"{len(marked)} characters ({sum(1 for c in marked if ord(c) <= 0xFFFF)} in the BMP) and {len(differing)} keys "
          f"from {len(keys)} keys -> {path}")


if __name__ == "__main__":
    main()
