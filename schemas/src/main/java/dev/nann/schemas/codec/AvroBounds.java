package dev.nann.schemas.codec;

import java.io.IOException;
import org.apache.avro.Schema;

/**
 * Walks an Avro binary body against its schema without building anything, and refuses it unless
 * every declared length and count fits in the bytes actually present. Avro's decoder allocates a
 * string, bytes or array at its declared size before reading it, so a 15-byte record declaring a
 * 2 GiB string is an out-of-memory error; after this walk, nothing the decoder allocates can be
 * larger than the record itself. Every string must be well-formed UTF-8 too (Avro would read a bad
 * byte as U+FFFD, and two different ids as one). Allocation-free and linear in the record's size.
 */
final class AvroBounds {
  /** Items of a collection whose items take no bytes (null, empty records): more than this is a bomb. */
  static final long MAX_EMPTY_ITEMS = 65_536;

  private final byte[] buf;
  private int pos;
  private final int end;

  private AvroBounds(byte[] buf, int from, int end) {
    this.buf = buf;
    this.pos = from;
    this.end = end;
  }

  /**
   * Checks {@code buf[from, end)} is exactly one {@code schema} value.
   *
   * @throws IOException naming the field whose length or count does not fit, or what else is wrong
   */
  static void check(Schema schema, byte[] buf, int from, int end) throws IOException {
    AvroBounds b = new AvroBounds(buf, from, end);
    b.value(schema, schema.getName());
    if (b.pos != end) {
      throw new IOException((end - b.pos) + " bytes follow the end of the " + schema.getName() + " record");
    }
  }

  private void value(Schema s, String field) throws IOException {
    switch (s.getType()) {
      case NULL -> { }
      case BOOLEAN -> need(1, field);
      case INT -> intVarint(field);
      case LONG -> varint(field);
      case FLOAT -> need(4, field);
      case DOUBLE -> need(8, field);
      case FIXED -> need(s.getFixedSize(), field);
      case STRING, BYTES -> {
        long len = intVarint(field);
        if (len < 0 || len > end - pos) {
          throw new IOException("field '" + field + "' declares " + len + " bytes but only " + (end - pos)
              + " remain in the record");
        }
        if (s.getType() == Schema.Type.STRING) {
          utf8(pos, pos + (int) len, field);
        }
        pos += (int) len;
      }
      case ENUM -> {
        long i = intVarint(field);
        if (i < 0 || i >= s.getEnumSymbols().size()) {
          throw new IOException("field '" + field + "' has enum index " + i + " of " + s.getEnumSymbols().size()
              + " symbols");
        }
      }
      case UNION -> {
        long i = intVarint(field);
        if (i < 0 || i >= s.getTypes().size()) {
          throw new IOException("field '" + field + "' has union branch " + i + " of " + s.getTypes().size());
        }
        value(s.getTypes().get((int) i), field);
      }
      case RECORD -> {
        for (Schema.Field f : s.getFields()) {
          value(f.schema(), f.name());
        }
      }
      case ARRAY -> items(s.getElementType(), null, field);
      case MAP -> items(s.getValueType(), Schema.create(Schema.Type.STRING), field);
      default -> throw new IOException("unsupported schema type " + s.getType());
    }
  }

  /**
   * Refuses a string that is not well-formed UTF-8 (a truncated or overlong sequence, a surrogate, a
   * code point past U+10FFFF): Avro would read each bad byte as U+FFFD, so two different ids (request
   * ids, item attributes) could read as one, and an answer go out under an id nobody sent.
   */
  private void utf8(int from, int to, String field) throws IOException {
    int i = from;
    while (i < to) {
      int b = buf[i] & 0xFF;
      int more;
      int min;
      if (b < 0x80) {
        i++;
        continue;
      } else if (b >= 0xC2 && b <= 0xDF) {
        more = 1;
        min = 0x80;
      } else if (b >= 0xE0 && b <= 0xEF) {
        more = 2;
        min = 0x800;
      } else if (b >= 0xF0 && b <= 0xF4) {
        more = 3;
        min = 0x10000;
      } else {
        throw notUtf8(field, i - from);
      }
      if (i + more >= to) {   // the sequence runs past the string
        throw notUtf8(field, i - from);
      }
      int cp = b & (0x3F >> more);
      for (int k = 1; k <= more; k++) {
        int c = buf[i + k] & 0xFF;
        if ((c & 0xC0) != 0x80) {
          throw notUtf8(field, i - from);
        }
        cp = cp << 6 | c & 0x3F;
      }
      if (cp < min || cp > 0x10FFFF || cp >= 0xD800 && cp <= 0xDFFF) {
        throw notUtf8(field, i - from);
      }
      i += more + 1;
    }
  }

  private static IOException notUtf8(String field, int at) {
    return new IOException("field '" + field + "' is not valid UTF-8 (at byte " + at + " of its value)");
  }

  /** Blocks of items (map entries: a string key before each value) until a zero count. */
  private void items(Schema item, Schema key, String field) throws IOException {
    long total = 0;
    while (true) {
      long count = varint(field);
      if (count == 0) {
        return;
      }
      long size = -1;
      if (count < 0) {          // a negative count is followed by the block's size in bytes
        count = -count;
        size = varint(field);
        if (size < 0 || size > end - pos) {
          throw new IOException("field '" + field + "' declares a block of " + size + " bytes but only "
              + (end - pos) + " remain in the record");
        }
      }
      int blockStart = pos;
      total += count;
      // every item of a non-empty type takes at least one byte: a count beyond the bytes left is a lie
      boolean sized = key != null || minBytes(item) > 0;
      if (count < 0 || (sized ? count > end - pos : total > MAX_EMPTY_ITEMS)) {
        throw new IOException("field '" + field + "' declares " + count + " items but only " + (end - pos)
            + " bytes remain in the record");
      }
      for (long i = 0; i < count; i++) {
        if (key != null) {
          value(key, field + " (key)");
        }
        value(item, field);
      }
      // a reader that skips this field (one removed since) jumps by the declared size: it must be the
      // items' true size, or that reader would go on from bytes never checked here
      if (size >= 0 && pos - blockStart != size) {
        throw new IOException("field '" + field + "' declares a block of " + size + " bytes but its items take "
            + (pos - blockStart));
      }
    }
  }

  private static int minBytes(Schema s) {
    return switch (s.getType()) {
      case NULL -> 0;
      case RECORD -> s.getFields().stream().mapToInt(f -> minBytes(f.schema())).sum();
      case FIXED -> s.getFixedSize();
      default -> 1;
    };
  }

  private void need(int n, String field) throws IOException {
    if (n > end - pos) {
      throw new IOException("the record ends inside field '" + field + "'");
    }
    pos += n;
  }

  /**
   * A zig-zag varint Avro reads as an int (an int field, a string's or bytes' length, an enum or
   * union index): at most 5 bytes and within the int range, as Avro's decoder requires; it fails
   * on a longer one in its own way, an unchecked error where this names the field.
   */
  private long intVarint(String field) throws IOException {
    int start = pos;
    long v = varint(field);
    if (pos - start > 5 || v < Integer.MIN_VALUE || v > Integer.MAX_VALUE) {
      throw new IOException("field '" + field + "' holds a malformed number (an int written in " + (pos - start)
          + " bytes)");
    }
    return v;
  }

  /** A zig-zag varint (at most 10 bytes), decoded. */
  private long varint(String field) throws IOException {
    long raw = 0;
    for (int shift = 0; shift < 70; shift += 7) {
      if (pos >= end) {
        throw new IOException("the record ends inside field '" + field + "'");
      }
      int b = buf[pos++] & 0xff;
      raw |= (long) (b & 0x7f) << shift;
      if ((b & 0x80) == 0) {
        return (raw >>> 1) ^ -(raw & 1);
      }
    }
    throw new IOException("field '" + field + "' holds a malformed number (more than 10 bytes)");
  }
}
