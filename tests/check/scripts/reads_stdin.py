# stdin-eof: input() at end of file.
name = input("name? ")
print("hello", name)
