# The compiled netfilter field scanner (_nffields.c); see netfilter.with_compiled_fields.
def scan(
    offsets: object, data: object, offset: int, length: int, /
) -> tuple[tuple[bytes, bytes], ...]: ...
