# The compiled netfilter field scanner (_nffields.c); see netfilter.with_compiled_fields.

#: (name, kind) of each column scan() returns, in order; kind is "text",
#: "number" (int32), "time" (time64[us]) or "truth".
FIELDS: tuple[tuple[str, str], ...]
#: The TCP flags the scanner names, in the order it names them.
TCP_FLAGS: tuple[str, ...]

def scan(
    offsets: object, data: object, offset: int, length: int, /
) -> tuple[tuple[bytes, ...], ...]: ...
