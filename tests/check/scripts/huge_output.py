# Huge output: 50 MB on stdout; the check keeps its tail and marks it cut.
import sys

line = "x" * 99 + "\n"
for _ in range(500_000):
    sys.stdout.write(line)
print("the end")
