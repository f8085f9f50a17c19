"""User and item ids as nann serves them: 64-bit signed integers, from whatever a log holds.

An id written as a decimal integer within the signed 64-bit range (``[+-]?[0-9]+``, ASCII digits,
nothing around it) is that integer; any other text (``u-196``, ``B000123XYZ``, a UUID, an integer
beyond 64 bits) becomes the first 8 bytes of the SHA-256 of its UTF-8 bytes, big-endian, as a
signed integer. ``dev.nann.client.NannIds.of(String)`` computes the same, so an application can
send requests and events for ``"u-196"`` without a lookup table. Two distinct texts meet on one id
with probability about n² / 2^65 for n ids (1 in 370,000 at ten million); the trainer checks its
own ids and refuses a row whose id collides. Integers are read as numbers, so ``007``, ``+7`` and ``7``
are one id (the client reads them so too); a log that holds more than one of these spellings has its
rows with the later ones refused, naming both, rather than merging two ids that differ as text.
"""
import hashlib
import re

INT64_MIN, INT64_MAX = -2 ** 63, 2 ** 63 - 1
_DECIMAL = re.compile(r"[+-]?[0-9]+")


def is_integer_id(text):
    """Whether ``text`` is used as the integer it spells (otherwise it is hashed)."""
    return _DECIMAL.fullmatch(text) is not None and INT64_MIN <= int(text) <= INT64_MAX


def parse_id(text):
    """The 64-bit id of ``text`` (module doc). An empty text is refused with ValueError."""
    if not text:
        raise ValueError("empty id")
    if is_integer_id(text):
        return int(text)
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big", signed=True)


class IdNames:
    """The texts behind hashed ids of one kind (user or item), to write them out and to catch collisions."""

    def __init__(self, kind):
        self.kind = kind
        self.names = {}            # hashed id -> text
        self._integers = {}        # id given as an integer -> the first text that spelled it

    def id_of(self, text):
        """``parse_id(text)``, remembered; ValueError if another text already holds that id, or if the
        text holds a line break (id-names.tsv keeps one id a line)."""
        if "\n" in text or "\r" in text:
            raise ValueError(f"{self.kind} id {text!r} holds a line break")
        v = parse_id(text)
        if is_integer_id(text):
            if v in self.names:
                raise ValueError(f"{self.kind} id {text} collides with the hash of {self.names[v]!r}")
            spelled = self._integers.setdefault(v, text)
            if spelled != text:   # "007" after "7": one integer, two ids in the log's eyes
                raise ValueError(f"{self.kind} ids {spelled!r} and {text!r} are both the integer {v} "
                                 f"(integer ids are read as numbers); write each id one way")
            return v
        held = self.names.setdefault(v, text)
        if held != text or v in self._integers:
            other = repr(held) if held != text else str(v)
            raise ValueError(f"{self.kind} ids {text!r} and {other} map to the same 64-bit id {v}")
        return v
