#!/usr/bin/env python3
"""Generates N extra rules for the scaling benchmark: each needs one new three-character word (the
way real rules add vocabulary) near any of two words of the bundled dictionary.
Usage: bench_rules.py SEED COUNT WORDS_FILE > generated.fz"""
import random, sys

seed, count, words_file = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
rng = random.Random(seed)
words = [w for w in open(words_file, encoding="utf-8").read().split("\n") if len(w) >= 2 and '"' not in w and "\\" not in w]
def novel():
    return "".join(chr(rng.randint(0x4E00, 0x9FA5)) for _ in range(3))
print('category gen {\n  title "generated"\n  advice "generated"\n  script "generated"\n}')
for i in range(count):
    a, b = rng.choice(words), rng.choice(words)
    w = novel()
    print(f'rule gen.r{i} {{\n  title "generated {i}"\n  category gen\n  score 1\n'
          f'  match "{w}" near(30) any("{a}", "{b}")\n  hit "{w}{a}"\n  miss "无关的文字"\n}}')
