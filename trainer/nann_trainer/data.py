"""Interaction logs -> behaviour sequences and the paper's split (NANN §5.1.1).

Reads MovieLens-100k (a directory with ``u.data`` and ``u.item``) or any interaction log: one row
per interaction with a user, an item and a time, separated by ``::``, tabs, commas or semicolons
(quoted fields allowed, each within its line) or spaces, the separator taken from the first line. Which columns hold what:
a header that names them ("userId", "item_id", "product", "timestamp", "event_time", ...), else the
position (``user item time``, or ``user item rating-or-event time`` with four or more), or
``columns`` ("USER,ITEM,TIME", names or 1-based numbers) for anything else. Ids may be any text
(:mod:`nann_trainer.ids`: integers are kept, other text hashed to 64 bits as the client's NannIds
does); times are numbers in any unit or ISO-8601 dates. Item attributes optionally from a second
file (``item<TAB>year<TAB>genre|genre|...``). Both files are UTF-8. Bad rows (a line that is not
UTF-8 among them) are counted, reported and skipped, never fatal.

Split: users with fewer than ``min_len`` behaviours are dropped; validation and test users are drawn
at random (seeded); for them the ⌈l_u/2⌉-th behaviour is the ground truth, predicted from the
behaviours before it, and nothing of theirs is trained on. Training users contribute every
behaviour b_{k+1} predicted from the ones before it.
"""
import csv
import math
import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone

import numpy as np

from nann_trainer.ids import IdNames, parse_id


@dataclass
class Interactions:
    """What was read: time-ordered behaviour sequences (item ids) per user, item attributes, bad rows."""
    sequences: dict            # user -> [item id, ...] oldest first
    item_ids: np.ndarray       # every item id known (catalog order)
    attributes: np.ndarray     # [items, A] float32 attributes per item (genres, scaled year), A may be 0
    attribute_names: list
    bad_rows: int = 0
    bad_examples: list = field(default_factory=list)
    layout: str = ""           # which columns were read, for the log
    warnings: list = field(default_factory=list)   # what looks wrong about the layout, for the log
    hashed_ids: dict = field(default_factory=dict)   # "user"/"item" -> {hashed id: the text it came from}

    @property
    def interactions(self):
        return sum(len(s) for s in self.sequences.values())


@dataclass
class Split:
    """Training examples and held-out users. Items are catalog rows (indices into item_ids)."""
    train_users: list
    val: list                  # [(user, history rows, truth row)]
    test: list
    train_examples: list       # [(history rows, target row)], history capped at seq_len
    dropped_users: int


def read_interactions(path, items_path=None, max_bad_examples=5, columns=None):
    """Reads a MovieLens-100k directory or an interaction file; returns :class:`Interactions`.

    ``columns``: "USER,ITEM,TIME", each a header name or a 1-based column number, for a file whose
    header or layout the reader does not recognise (module doc).
    """
    if os.path.isdir(path):
        if items_path:
            raise ValueError("--items applies to --data FILE; a MovieLens-100k directory brings its own u.item")
        if columns:
            raise ValueError("--columns applies to --data FILE; a MovieLens-100k directory has a fixed layout")
        return _read_movielens(path, max_bad_examples)
    users, items = IdNames("user"), IdNames("item")
    rows, bad, examples = [], 0, []
    layout = None
    for n, fields, problem in _rows(path):
        if layout is None and problem is None:
            layout = _layout(fields, columns)
            if layout.header:
                continue
        try:
            if problem:
                raise ValueError(problem)
            if len(fields) <= max(layout.user, layout.item, layout.time):
                raise ValueError(f"{len(fields)} fields, need {layout.describe()}")
            t = parse_time(fields[layout.time].strip())
            u = users.id_of(fields[layout.user].strip())
            i = items.id_of(fields[layout.item].strip())
            rows.append((u, i, t))
        except ValueError as e:
            bad += 1
            if len(examples) < max_bad_examples:
                examples.append(f"line {n}: {e}")
    if layout is None:
        raise ValueError(f"{path} holds no interactions")
    attrs, names = {}, []
    if items_path:
        attrs, names, b2, ex2 = _read_item_file(items_path, items, max_bad_examples)
        bad += b2
        examples += ex2
    item_ids = np.array(sorted({i for _u, i, _t in rows} | set(attrs)), dtype=np.int64)
    out = _build(rows, item_ids, attrs, names, bad, examples)
    out.layout = layout.describe() + (", from the header" if layout.header else "")
    times = {t for _u, _i, t in rows}
    if len(rows) >= 100 and len(times) <= 10:
        out.warnings.append(f"the time column holds only {len(times)} distinct values ({', '.join(f'{t:g}' for t in sorted(times)[:5])}"
                            f"{', ...' if len(times) > 5 else ''}) for {len(rows)} rows: if it is a rating or an event "
                            "type, name the time column with --columns USER,ITEM,TIME (each user's behaviour is ordered "
                            "by it)")
    out.hashed_ids = {"user": users.names, "item": items.names}
    return out


@dataclass(frozen=True)
class _Layout:
    """Which fields of a row hold the user, the item and the time (0-based), and whether line 1 was a header."""
    user: int
    item: int
    time: int
    header: list

    def describe(self):
        def name(k):
            return f"{k + 1} ({self.header[k]})" if self.header and k < len(self.header) else str(k + 1)
        return f"user = column {name(self.user)}, item = {name(self.item)}, time = {name(self.time)}"


_ROLE_WORDS = {
    "user": ("user", "customer", "visitor", "member", "buyer", "viewer", "listener", "reader", "client"),
    "item": ("item", "movie", "product", "sku", "asin", "video", "track", "song", "article", "book", "film",
             "artist", "content", "recipe"),
    "time": ("time", "date", "when", "created", "epoch"),
}


def _role_columns(header):
    """Per role, the header's columns whose name says it ("userId", "item_id", "event_time", "ts", ...);
    of several, the ones named as an id or as the role itself ("user_id" over "user_session")."""
    norm = [re.sub(r"[^a-z0-9]", "", h.lower()) for h in header]
    found = {}
    for role, words in _ROLE_WORDS.items():
        ks = [k for k, h in enumerate(norm) if h == "ts" and role == "time" or any(w in h for w in words)]
        if len(ks) > 1 and role != "time":
            ids = [k for k in ks if norm[k].endswith("id") or norm[k] in words]
            ks = ids if len(ids) == 1 else ks
        found[role] = ks
    return found


def _layout(first, columns):
    """The layout from the file's first row: ``--columns``, else a header's names, else the position."""
    fields = [f.strip() for f in first]
    positional = (0, 1, 3) if len(fields) >= 4 else (0, 1, 2)
    picks = [c.strip() for c in columns.split(",")] if columns else None
    if picks is not None and len(picks) != 3:
        raise ValueError(f"--columns {columns!r}: give three, USER,ITEM,TIME (header names or 1-based numbers)")
    # is the first row data? probed at the columns asked for, else at the position
    probe = [int(c) - 1 for c in picks] if picks and all(c.isdigit() and int(c) >= 1 for c in picks) else positional
    try:
        if max(probe) >= len(fields):
            raise ValueError("short")
        parse_time(fields[probe[2]])
        parse_id(fields[probe[0]])
        parse_id(fields[probe[1]])
        header = []
    except ValueError:
        # a header names its columns: a row holding a number is data whose time did not parse (a bad row
        # to report), not a header to skip
        header = fields if any(c.isalpha() for f in fields for c in f) and not any(_is_number(f) for f in fields) else []
    if picks:
        at = []
        for c in picks:
            if c.isdigit() and int(c) >= 1:
                at.append(int(c) - 1)
            elif c in header:
                at.append(header.index(c))
            else:
                raise ValueError(f"--columns: {c!r} is neither a column number nor a name in the header "
                                 f"({', '.join(header) if header else 'the file has none'})")
        return _Layout(at[0], at[1], at[2], header)
    if header:
        found = _role_columns(header)
        if found["user"] or found["item"]:
            missing = [r for r in ("user", "item", "time") if len(found[r]) != 1]
            if missing:
                raise ValueError(
                    "the header (" + ", ".join(header) + ") does not name one column for "
                    + " and ".join(f"the {r}" + (" (several match)" if found[r] else "") for r in missing)
                    + "; say which with --columns USER,ITEM,TIME (names or 1-based numbers)"
                    + ("; the order of each user's behaviour comes from the time column, which nann needs"
                       if "time" in missing and not found["time"] else ""))
            return _Layout(found["user"][0], found["item"][0], found["time"][0], header)
    return _Layout(*positional, header)


def _is_number(text):
    try:
        float(text)
        return text.strip() != ""
    except ValueError:
        return False


def _rows(path):
    """(line number, fields, problem) of each non-empty line; the separator (``::``, tab, comma,
    semicolon or spaces) is chosen from the first non-empty line, and comma or semicolon files may
    quote fields. ``problem`` names what makes a line unreadable (fields then empty): a line that is not
    UTF-8. A quoted field never runs past its line, so one stray quote costs one row, not the rest of
    the file."""
    sep = quoted = None
    for n, line in _text_lines(path):
        if isinstance(line, ValueError):
            yield n, [], str(line)
            continue
        if not line.strip():
            continue
        if sep is None and quoted is None:
            if "::" in line:
                sep = "::"
            elif "\t" in line:
                sep = "\t"
            elif "," in line or ";" in line:
                # both: the one found more often outside quotes ("1;31;2,5;881250949" has a decimal comma,
                # '42,B00X,5,1700000000,"Books;Fiction;Epic"' a quoted list)
                quoted = ";" if _unquoted_count(line, ";") > _unquoted_count(line, ",") else ","
            else:
                sep = ""
        if quoted:
            try:
                fields = next(csv.reader([line], delimiter=quoted))
            except csv.Error as e:
                yield n, [], f"unreadable {quoted!r}-separated line: {e}"
                continue
            if any(x.strip() for x in fields):
                yield n, fields, None
        else:
            yield n, line.split(sep) if sep else line.split(), None


def _unquoted_count(line, sep):
    """How often ``sep`` occurs in ``line`` outside double-quoted stretches."""
    count, quoted = 0, False
    for c in line:
        if c == '"':
            quoted = not quoted
        elif c == sep and not quoted:
            count += 1
    return count


def _text_lines(path):
    """(line number, text without its line break) of each line (``\\n``, ``\\r\\n`` or a lone ``\\r``, as
    "CSV (Macintosh)" writes), or (line number, ValueError) for a line that is not UTF-8: decoding it
    leniently would turn "Café" and "Cafè" of a Latin-1 file into one id."""
    # undecodable bytes become lone surrogates (U+DC80..U+DCFF), found per line below
    with open(path, encoding="utf-8", errors="surrogateescape", newline=None) as f:
        for n, line in enumerate(f, 1):
            if n == 1 and line.startswith("\ufeff"):   # a spreadsheet's "CSV UTF-8" byte-order mark
                line = line[1:]
            line = line.rstrip("\n")
            bad = None if line.isascii() else next((k for k, c in enumerate(line) if "\udc80" <= c <= "\udcff"), None)
            if bad is None:
                yield n, line
            else:
                yield n, ValueError(f"not UTF-8 text (byte 0x{ord(line[bad]) - 0xdc00:02x} at character {bad + 1}); "
                                    f"save the file as UTF-8")


def parse_time(text):
    """A row's time as seconds: any number (only the order within a user matters, so any unit does) or an
    ISO-8601 date or date-time ("2024-03-01", "2024-03-01 12:00:00", "2024-03-01T12:00:00Z"; UTC unless
    it says otherwise)."""
    try:
        t = float(text)
    except ValueError:
        iso = text
        if iso.endswith("Z"):                       # before Python 3.11 fromisoformat takes no "Z"
            iso = iso[:-1] + "+00:00"
        elif iso.upper().endswith(" UTC"):          # "2019-10-01 00:00:00 UTC", as some exports write it
            iso = iso[:-4] + "+00:00"
        try:
            d = datetime.fromisoformat(iso)
        except ValueError:
            raise ValueError(f"time {text!r} is neither a number nor an ISO-8601 date") from None
        return (d if d.tzinfo else d.replace(tzinfo=timezone.utc)).timestamp()
    if not math.isfinite(t):
        raise ValueError("time is not finite")
    return t


def _read_item_file(path, item_ids, max_bad_examples):
    """item -> attributes from ``item<TAB>year<TAB>genre|genre|...`` lines (year and genres optional);
    blank lines and a header line are skipped."""
    raw, genres, bad, examples = {}, set(), 0, []
    for n, line in _text_lines(path):
        try:
            if isinstance(line, ValueError):
                raise line
            if not line.strip():
                continue
            parts = line.split("\t")
            if len(parts) == 1 and any(c in line for c in ",;|"):
                raise ValueError("no tab: the items file holds item<TAB>year<TAB>genre|genre|... per line")
            try:
                year = float(parts[1]) if len(parts) > 1 and parts[1].strip() else float("nan")
            except ValueError:
                if not raw and not bad and any(c.isalpha() for c in parts[1]):   # a heading line
                    continue
                raise ValueError(f"year {parts[1]!r} is not a number") from None
            if len(parts) > 1 and parts[1].strip() and not math.isfinite(year):   # inf would make every item's attribute NaN
                raise ValueError(f"year {parts[1]!r} is not a finite number")
            item = item_ids.id_of(parts[0].strip())
            gs = [g for g in parts[2].split("|") if g] if len(parts) > 2 else []
            raw[item] = (year, gs)
            genres.update(gs)
        except ValueError as e:
            bad += 1
            if len(examples) < max_bad_examples:
                examples.append(f"{os.path.basename(path)} line {n}: {e}")
    names = sorted(genres)
    return _encode_attributes(raw, names), names + ["year"], bad, examples


def _encode_attributes(raw, genre_names):
    """item -> [genre one-hots..., year scaled to about [-1, 1] (0 when unknown)]."""
    years = [y for y, _g in raw.values() if not math.isnan(y)]
    mid = float(np.median(years)) if years else 0.0
    spread = float(np.std(years)) if len(years) > 1 else 1.0
    col = {g: k for k, g in enumerate(genre_names)}
    out = {}
    for item, (year, gs) in raw.items():
        v = np.zeros(len(genre_names) + 1, dtype=np.float32)
        for g in gs:
            v[col[g]] = 1.0
        v[-1] = 0.0 if math.isnan(year) else (year - mid) / max(spread, 1e-6) / 3
        out[item] = v
    return out


def _read_movielens(path, max_bad_examples):
    bad, examples = 0, []
    genre_names = []
    gpath = os.path.join(path, "u.genre")
    if os.path.exists(gpath):
        with open(gpath, encoding="latin-1") as f:
            genre_names = [ln.split("|")[0] for ln in f if "|" in ln]
    raw = {}
    with open(os.path.join(path, "u.item"), encoding="latin-1") as f:
        for n, line in enumerate(f, 1):
            parts = line.rstrip("\n").split("|")
            try:
                item = int(parts[0])
                m = re.search(r"(\d{4})", parts[2])
                year = float(m.group(1)) if m else float("nan")
                flags = [int(x) for x in parts[5:5 + 19]]
                gs = [genre_names[k] if k < len(genre_names) else f"g{k}" for k, x in enumerate(flags) if x]
                raw[item] = (year, gs)
            except (ValueError, IndexError) as e:
                bad += 1
                if len(examples) < max_bad_examples:
                    examples.append(f"u.item line {n}: {e}")
    names = genre_names or sorted({g for _y, gs in raw.values() for g in gs})
    attrs = _encode_attributes(raw, names)
    rows = []
    with open(os.path.join(path, "u.data")) as f:
        for n, line in enumerate(f, 1):
            parts = line.split()
            try:
                u, i, _r, t = (int(x) for x in parts[:4])
                if i not in raw:
                    raise ValueError(f"item {i} is not in u.item")
                rows.append((u, i, t))
            except (ValueError, IndexError) as e:
                bad += 1
                if len(examples) < max_bad_examples:
                    examples.append(f"u.data line {n}: {e}")
    item_ids = np.array(sorted(raw), dtype=np.int64)
    return _build(rows, item_ids, attrs, names + ["year"], bad, examples)


def _build(rows, item_ids, attrs, names, bad, examples):
    rows.sort(key=lambda r: (r[2], r[0], r[1]))      # by time; ties broken deterministically
    seqs = {}
    for u, i, _t in rows:
        seqs.setdefault(u, []).append(i)
    width = len(next(iter(attrs.values()))) if attrs else 0
    a = np.zeros((len(item_ids), width), dtype=np.float32)
    for r, i in enumerate(item_ids):
        if int(i) in attrs:
            a[r] = attrs[int(i)]
    return Interactions(seqs, item_ids, a, names if width else [], bad, examples)


def split(data, seq_len=20, val_users=0.1, test_users=0.1, min_len=10, seed=7):
    """The paper's split (module doc). Fractions of the kept users, or counts when >= 1."""
    row = {int(i): r for r, i in enumerate(data.item_ids)}
    users = sorted(u for u, s in data.sequences.items() if len(s) >= min_len)
    dropped = len(data.sequences) - len(users)
    rng = np.random.default_rng(seed)
    order = [users[k] for k in rng.permutation(len(users))]
    nv = int(val_users) if val_users >= 1 else int(round(val_users * len(users)))
    nt = int(test_users) if test_users >= 1 else int(round(test_users * len(users)))
    val_u, test_u, train_u = order[:nv], order[nv:nv + nt], sorted(order[nv + nt:])

    def held_out(us):
        out = []
        for u in sorted(us):
            s = [row[i] for i in data.sequences[u]]
            k = math.ceil(len(s) / 2) - 1          # the ⌈l/2⌉-th behaviour, 0-based
            out.append((u, s[max(0, k - seq_len):k], s[k]))
        return out

    examples = []
    for u in train_u:
        s = [row[i] for i in data.sequences[u]]
        for k in range(1, len(s)):
            examples.append((s[max(0, k - seq_len):k], s[k]))
    return Split(train_u, held_out(val_u), held_out(test_u), examples, dropped)
