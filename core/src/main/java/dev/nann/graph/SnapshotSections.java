package dev.nann.graph;

import static dev.nann.graph.SnapshotFormat.ATTRIBUTES;
import static dev.nann.graph.SnapshotFormat.EMBEDDINGS;
import static dev.nann.graph.SnapshotFormat.FIXED_HEADER;
import static dev.nann.graph.SnapshotFormat.FORMAT_VERSION;
import static dev.nann.graph.SnapshotFormat.ITEM_IDS;
import static dev.nann.graph.SnapshotFormat.MAGIC;
import static dev.nann.graph.SnapshotFormat.NEIGHBORS;
import static dev.nann.graph.SnapshotFormat.NODES;
import static dev.nann.graph.SnapshotFormat.OFFSETS;
import static dev.nann.graph.SnapshotFormat.PATHS;
import static dev.nann.graph.SnapshotFormat.SECTION_ENTRY;
import static dev.nann.graph.SnapshotFormat.TOMBSTONES;
import static dev.nann.graph.SnapshotFormat.TRAILER_BYTES;
import static dev.nann.graph.SnapshotFormat.readFully;

import java.io.IOException;
import java.nio.Buffer;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.nio.LongBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.BitSet;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.Map;

/**
 * A snapshot file's parts as read back ({@link SnapshotFormat} lays them out): its header, its section
 * table, and its sections as typed buffers, either memory-mapped ({@link SnapshotFormat#read}) or
 * copied onto the heap while they are hashed ({@link #readOnHeap}), then checked against each other
 * and made into an {@link HnswIndex}.
 */
final class SnapshotSections {
  /** Bytes read and hashed at a time when copying onto the heap. */
  private static final int CHUNK = 1 << 20;

  /** The fixed header's fields. */
  record Header(int headerBytes, long version, int dim, int count, int m, int efc, long seed, long created, int levels,
                int entry, int sectionCount) {
  }

  /** One section table entry. */
  record Entry(int kind, int level, long off, long bytes) {
  }

  private final IntBuffer[] nodes;
  private final IntBuffer[] offsets;
  private final IntBuffer[] neighbors;
  private LongBuffer ids;
  private FloatBuffer emb;
  private LongBuffer tomb = LongBuffer.allocate(0);
  private ByteBuffer attrs;
  private ByteBuffer paths;

  SnapshotSections(int levels) {
    nodes = new IntBuffer[levels];
    offsets = new IntBuffer[levels];
    neighbors = new IntBuffer[levels];
    nodes[0] = IntBuffer.allocate(0);
  }

  /**
   * Reads a snapshot onto the heap, hashing exactly the bytes it copies: what is checked and served is
   * what the checksum covers, whatever happens to the file meanwhile, and a file cut short while it is
   * read gives a short read (refused), never a fault in mapped memory.
   *
   * @throws SnapshotException if the file is truncated, corrupt, of another format, or inconsistent
   */
  static HnswIndex readOnHeap(Path file) {
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      long size = ch.size();
      MessageDigest sha = SnapshotFormat.sha256();
      Header h = header(ch, file, size, sha);
      long trailerStart = size - TRAILER_BYTES;
      Entry[] entries = entries(ch, file, h, trailerStart, sha);
      Entry[] byOffset = entries.clone();
      Arrays.sort(byOffset, Comparator.comparingLong(Entry::off));
      SnapshotSections s = new SnapshotSections(h.levels());
      ByteBuffer chunk = ByteBuffer.allocate(CHUNK).order(ByteOrder.LITTLE_ENDIAN);
      long pos = FIXED_HEADER + (long) h.sectionCount() * SECTION_ENTRY;
      for (Entry e : byOffset) {
        if (e.off() < pos) {
          throw new SnapshotException("snapshot " + file + " has overlapping sections (kind " + e.kind() + " at byte "
              + e.off() + ")");
        }
        hashOnly(ch, file, pos, e.off(), sha, chunk);
        s.put(file, e, copy(ch, file, e, sha, chunk));
        pos = e.off() + e.bytes();
      }
      hashOnly(ch, file, pos, trailerStart, sha, chunk);
      byte[] actual = sha.digest();
      SnapshotFormat.requireDigest(file, SnapshotFormat.trailer(ch, file, trailerStart), actual);
      return s.assemble(file, h, HexFormat.of().formatHex(actual));
    } catch (IOException e) {
      throw new SnapshotException("cannot read snapshot " + file + ": " + e, e);
    }
  }

  /** Hashes the bytes [from, to) (padding between sections). */
  private static void hashOnly(FileChannel ch, Path file, long from, long to, MessageDigest sha, ByteBuffer chunk)
      throws IOException {
    for (long at = from; at < to; ) {
      chunk.clear().limit((int) Math.min(CHUNK, to - at));
      readFully(ch, chunk, at);
      sha.update(chunk.array(), 0, chunk.limit());
      at += chunk.limit();
    }
  }

  /** Copies section {@code e} into a heap array of its element type, hashing its bytes on the way. */
  private static Buffer copy(FileChannel ch, Path file, Entry e, MessageDigest sha, ByteBuffer chunk)
      throws IOException {
    int unit = elementBytes(file, e.kind());
    if (e.bytes() % unit != 0) {
      throw new SnapshotException("snapshot " + file + " section of kind " + e.kind() + " holds " + e.bytes()
          + " bytes, not whole elements of " + unit);
    }
    int n = (int) (e.bytes() / unit);
    long[] longs = unit == Long.BYTES ? new long[n] : null;
    float[] floats = e.kind() == EMBEDDINGS ? new float[n] : null;
    int[] ints = unit == Integer.BYTES && floats == null ? new int[n] : null;
    byte[] bytes = unit == 1 ? new byte[n] : null;
    int done = 0;
    int step = CHUNK / Long.BYTES * Long.BYTES;
    for (long at = 0; at < e.bytes(); ) {
      chunk.clear().limit((int) Math.min(step, e.bytes() - at));
      readFully(ch, chunk, e.off() + at);
      sha.update(chunk.array(), 0, chunk.limit());
      chunk.flip();
      int k = chunk.limit() / unit;
      if (longs != null) {
        chunk.asLongBuffer().get(longs, done, k);
      } else if (floats != null) {
        chunk.asFloatBuffer().get(floats, done, k);
      } else if (ints != null) {
        chunk.asIntBuffer().get(ints, done, k);
      } else {
        chunk.get(bytes, done, k);
      }
      done += k;
      at += chunk.limit();
    }
    return longs != null ? LongBuffer.wrap(longs) : floats != null ? FloatBuffer.wrap(floats)
        : ints != null ? IntBuffer.wrap(ints) : ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
  }

  /** Reads (hashing it into {@code sha} unless null) and checks the fixed header. */
  static Header header(FileChannel ch, Path file, long size, MessageDigest sha) throws IOException {
    if (size < FIXED_HEADER + TRAILER_BYTES) {
      throw new SnapshotException("snapshot " + file + " is truncated: " + size + " bytes is shorter than any header");
    }
    ByteBuffer fixed = ByteBuffer.allocate(FIXED_HEADER).order(ByteOrder.LITTLE_ENDIAN);
    readFully(ch, fixed, 0);
    if (sha != null) {
      sha.update(fixed.array());
    }
    fixed.flip();
    byte[] magic = new byte[8];
    fixed.get(magic);
    if (!Arrays.equals(magic, MAGIC)) {
      throw new SnapshotException("snapshot " + file + " is not a nann snapshot (bad magic)");
    }
    int format = fixed.getInt();
    if (format != FORMAT_VERSION) {
      throw new SnapshotException("snapshot " + file + " has format version " + format + "; this build reads "
          + FORMAT_VERSION);
    }
    Header h = new Header(fixed.getInt(), fixed.getLong(), fixed.getInt(), fixed.getInt(), fixed.getInt(), fixed.getInt(),
        fixed.getLong(), fixed.getLong(), fixed.getInt(), fixed.getInt(), fixed.getInt());
    if (h.headerBytes() < FIXED_HEADER + (long) h.sectionCount() * SECTION_ENTRY || h.sectionCount() < 0
        || h.sectionCount() > 4096 || h.levels() < 1 || h.levels() > 64 || h.count() < 0 || h.dim() <= 0
        || h.headerBytes() > size - TRAILER_BYTES) {
      throw new SnapshotException("snapshot " + file + " has a corrupt header (levels=" + h.levels() + ", count="
          + h.count() + ", dim=" + h.dim() + ", sections=" + h.sectionCount() + ")");
    }
    return h;
  }

  /** Reads (hashing it into {@code sha} unless null) and checks the section table. */
  static Entry[] entries(FileChannel ch, Path file, Header h, long trailerStart, MessageDigest sha) throws IOException {
    ByteBuffer table = ByteBuffer.allocate(h.sectionCount() * SECTION_ENTRY).order(ByteOrder.LITTLE_ENDIAN);
    readFully(ch, table, FIXED_HEADER);
    if (sha != null) {
      sha.update(table.array());
    }
    table.flip();
    Entry[] entries = new Entry[h.sectionCount()];
    for (int i = 0; i < entries.length; i++) {
      Entry e = new Entry(table.getInt(), table.getInt(), table.getLong(), table.getLong());
      if (e.off() < h.headerBytes() || e.bytes() < 0 || e.off() > trailerStart - e.bytes()
          || e.bytes() > SnapshotChecks.MAX_SECTION_BYTES || e.level() < 0 || e.level() >= h.levels()) {
        throw new SnapshotException("snapshot " + file + " section " + i + " (kind " + e.kind() + ", level "
            + e.level() + ") lies outside the file");
      }
      entries[i] = e;
    }
    return entries;
  }

  /** Element size of a section's kind (1 for the byte sections). */
  private static int elementBytes(Path file, int kind) {
    return switch (kind) {
      case ITEM_IDS, TOMBSTONES -> Long.BYTES;
      case EMBEDDINGS, NODES, OFFSETS, NEIGHBORS -> Integer.BYTES;
      case ATTRIBUTES, PATHS -> 1;
      default -> throw new SnapshotException("snapshot " + file + " has unknown section kind " + kind);
    };
  }

  /** Takes section {@code e} as {@code typed} (a long, float or int buffer by its kind; bytes for the others). */
  void put(Path file, Entry e, Buffer typed) {
    switch (e.kind()) {
      case ITEM_IDS -> ids = (LongBuffer) typed;
      case EMBEDDINGS -> emb = (FloatBuffer) typed;
      case NODES -> nodes[e.level()] = (IntBuffer) typed;
      case OFFSETS -> offsets[e.level()] = (IntBuffer) typed;
      case NEIGHBORS -> neighbors[e.level()] = (IntBuffer) typed;
      case TOMBSTONES -> tomb = (LongBuffer) typed;
      case ATTRIBUTES -> attrs = (ByteBuffer) typed;
      case PATHS -> paths = (ByteBuffer) typed;
      default -> throw new SnapshotException("snapshot " + file + " has unknown section kind " + e.kind());
    }
  }

  /** Checks the sections against the header and each other, and makes the index of them. */
  HnswIndex assemble(Path file, Header h, String sha) {
    int count = h.count();
    if (ids == null || emb == null) {
      throw new SnapshotException("snapshot " + file + " lacks its item id or embedding section");
    }
    for (int level = 0; level < h.levels(); level++) {
      if (offsets[level] == null || neighbors[level] == null || nodes[level] == null) {
        throw new SnapshotException("snapshot " + file + " lacks the adjacency of level " + level);
      }
    }
    if (ids.limit() != count || emb.limit() != (long) count * h.dim()) {
      throw new SnapshotException("snapshot " + file + " holds " + ids.limit() + " ids and " + emb.limit()
          + " embedding floats for " + count + " items of dim " + h.dim());
    }
    SnapshotChecks.checkAdjacency(file, count, offsets, neighbors, nodes);
    SnapshotChecks.checkTombstones(file, count, tomb);
    long[] words = new long[tomb.limit()];
    tomb.get(0, words);
    HnswGraphView view;
    try {
      view = new HnswGraphView(count, h.entry(), nodes, offsets, neighbors);
    } catch (IllegalArgumentException e) {
      throw new SnapshotException("snapshot " + file + " has an inconsistent graph: " + e.getMessage(), e);
    }
    ItemAttributes attributes = attrs == null ? ItemAttributes.empty() : readAttributes(file, attrs, count);
    ItemPaths itemPaths = paths == null ? ItemPaths.empty() : PathSection.read(file, paths, count);
    return new HnswIndex(new IndexMeta(h.version(), h.dim(), h.m(), h.efc(), h.seed(), h.created()), view,
        new Embeddings(emb, h.dim()), ids, BitSet.valueOf(words), sha, attributes, itemPaths);
  }

  private static ItemAttributes readAttributes(Path file, ByteBuffer buf, int count) {
    ByteBuffer b = buf.duplicate().order(ByteOrder.LITTLE_ENDIAN);
    try {
      Map<String, Map<String, int[]>> postings = new java.util.TreeMap<>();
      int keys = b.getInt();
      for (int k = 0; k < keys; k++) {
        String key = string(b);
        int values = b.getInt();
        Map<String, int[]> byValue = new java.util.TreeMap<>();
        for (int v = 0; v < values; v++) {
          String value = string(b);
          int n = b.getInt();
          if (n < 0 || n > count) {
            throw new SnapshotException("snapshot " + file + " attribute " + key + "=" + value + " lists " + n + " nodes");
          }
          int[] nodes = new int[n];
          for (int i = 0; i < n; i++) {
            nodes[i] = b.getInt();
            if (nodes[i] < 0 || nodes[i] >= count || (i > 0 && nodes[i] <= nodes[i - 1])) {
              throw new SnapshotException("snapshot " + file + " attribute " + key + "=" + value
                  + " has an unsorted or out-of-range node " + nodes[i]);
            }
          }
          byValue.put(value, nodes);
        }
        postings.put(key, java.util.Collections.unmodifiableMap(byValue));
      }
      return ItemAttributes.ofPostings(java.util.Collections.unmodifiableMap(postings), count);
    } catch (java.nio.BufferUnderflowException | IllegalArgumentException e) {
      throw new SnapshotException("snapshot " + file + " has a malformed attribute section: " + e, e);
    }
  }

  private static String string(ByteBuffer b) {
    int len = b.getInt();
    if (len < 0 || len > b.remaining()) {
      throw new IllegalArgumentException("string of " + len + " bytes with " + b.remaining() + " left");
    }
    byte[] out = new byte[len];
    b.get(out);
    return new String(out, StandardCharsets.UTF_8);
  }
}
