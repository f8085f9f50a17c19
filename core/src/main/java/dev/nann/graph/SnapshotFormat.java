package dev.nann.graph;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.nio.LongBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

/**
 * The versioned index snapshot file: write, verify, and read back memory-mapped or onto the heap.
 *
 * <pre>
 * header   magic "NANNSNAP" | u32 format | u32 headerBytes | i64 version | i32 dim | i32 count | i32 M
 *          | i32 efConstruction | i64 seed | i64 createdAtMillis | i32 levels | i32 entryPoint
 *          | i32 sectionCount | sectionCount x (i32 kind | i32 level | i64 offset | i64 bytes)
 * sections each 64-byte aligned: ITEM_IDS i64[count], EMBEDDINGS f32[count*dim], per level
 *          NODES i32[] (levels >= 1), OFFSETS i32[rows+1], NEIGHBORS i32[], TOMBSTONES i64[words],
 *          ATTRIBUTES (optional) i32 keys | per key: str key | i32 values | per value: str value
 *          | i32 n | i32[n] sorted nodes   (str = i32 byte length | UTF-8 bytes),
 *          PATHS (optional) i32 J | i64[count*J] Deep Retrieval path codes (-1 = none)
 *          | i32 D | i32 K | u8[32] structure SHA-256 (absent in older files: {@link PathSection})
 * trailer  "NANNSHA2" | 32-byte SHA-256 of every byte before the trailer
 * </pre>
 *
 * All numbers are little-endian. {@link #read} checks length, magic, format, section bounds and the
 * SHA-256 before it returns, and the graph's consistency ({@link SnapshotChecks}) as well, so a
 * truncated, corrupted or inconsistent file never reaches a searcher. A section is mapped as one
 * buffer, so each must stay under 2 GiB (about 8M items at d=64); a larger build is refused with a
 * message to shard.
 */
public final class SnapshotFormat {
  public static final int FORMAT_VERSION = 1;
  static final byte[] MAGIC = "NANNSNAP".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] TRAILER_MAGIC = "NANNSHA2".getBytes(StandardCharsets.US_ASCII);
  static final int TRAILER_BYTES = 8 + 32;
  static final int FIXED_HEADER = 8 + 4 + 4 + 8 + 4 + 4 + 4 + 4 + 8 + 8 + 4 + 4 + 4;
  static final int SECTION_ENTRY = 4 + 4 + 8 + 8;
  private static final int ALIGN = 64;

  static final int ITEM_IDS = 1;
  static final int EMBEDDINGS = 2;
  static final int NODES = 3;
  static final int OFFSETS = 4;
  static final int NEIGHBORS = 5;
  static final int TOMBSTONES = 6;
  static final int ATTRIBUTES = 7;
  static final int PATHS = 8;

  private SnapshotFormat() {
  }

  private record Section(int kind, int level, ByteBuffer data) {
  }

  /**
   * Writes {@code index} to {@code file} atomically: a uniquely named temporary file, forced, then
   * given the name without replacing another file ({@link StoreFiles#publish}).
   *
   * @return the index carrying the file's SHA-256
   * @throws SnapshotException when a section would pass 2 GiB, or {@code file} exists with other contents
   */
  public static HnswIndex write(HnswIndex index, Path file) {
    HnswGraphView g = index.graph();
    long v = index.meta().version();
    List<Section> sections = new ArrayList<>();
    sections.add(new Section(ITEM_IDS, 0, longBytes(index.itemIdBuffer(), v, "item id")));
    sections.add(new Section(EMBEDDINGS, 0, floatBytes(index.embeddings().buffer(), v)));
    for (int level = 0; level < g.levels(); level++) {
      if (level > 0) {
        sections.add(new Section(NODES, level, intBytes(g.nodesBuffer(level), v, "level " + level + " node")));
      }
      sections.add(new Section(OFFSETS, level, intBytes(g.offsetsBuffer(level), v, "level " + level + " offset")));
      sections.add(new Section(NEIGHBORS, level,
          intBytes(g.neighborsBuffer(level), v, "level " + level + " neighbour")));
    }
    LongBuffer tombstones = LongBuffer.wrap(index.tombstones().toLongArray());
    sections.add(new Section(TOMBSTONES, 0, longBytes(tombstones, v, "tombstone")));
    if (!index.attributes().isEmpty()) {
      sections.add(new Section(ATTRIBUTES, 0, attributeBytes(index.attributes())));
    }
    if (!index.paths().isEmpty()) {
      sections.add(new Section(PATHS, 0, PathSection.bytes(index.paths(), v)));
    }

    int headerBytes = align(FIXED_HEADER + sections.size() * SECTION_ENTRY);
    ByteBuffer header = ByteBuffer.allocate(headerBytes).order(ByteOrder.LITTLE_ENDIAN);
    IndexMeta meta = index.meta();
    header.put(MAGIC).putInt(FORMAT_VERSION).putInt(headerBytes).putLong(meta.version()).putInt(meta.dim())
        .putInt(index.size()).putInt(meta.m()).putInt(meta.efConstruction()).putLong(meta.seed())
        .putLong(meta.createdAtMillis()).putInt(g.levels()).putInt(g.entryPoint()).putInt(sections.size());
    long offset = headerBytes;
    for (Section s : sections) {
      header.putInt(s.kind()).putInt(s.level()).putLong(offset).putLong(s.data().remaining());
      offset = align(offset + s.data().remaining());
    }
    header.rewind();

    MessageDigest sha = sha256();
    Path tmp = null;
    byte[] digest;
    try {
      tmp = StoreFiles.tempFile(file);
      try (FileChannel out = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
        long pos = writeHashed(out, header, sha);
        for (Section s : sections) {
          pos += writeHashed(out, s.data().duplicate(), sha);
          int pad = (int) (align(pos) - pos);
          pos += writeHashed(out, ByteBuffer.allocate(pad), sha);
        }
        digest = sha.digest();
        out.write(ByteBuffer.wrap(TRAILER_MAGIC));
        out.write(ByteBuffer.wrap(digest));
        out.force(true);
      }
      StoreFiles.publish(tmp, file);
      return index.withSha256(HexFormat.of().formatHex(digest));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write snapshot " + file + ": " + e.getMessage(), e);
    } finally {
      try {
        if (tmp != null) {
          Files.deleteIfExists(tmp);
        }
      } catch (IOException ignored) {
        // best effort: a leftover temporary file is harmless
      }
    }
  }

  /**
   * Reads a snapshot onto the heap (as serving holds an index), verifying the very bytes it copies
   * against the checksum: a file changed or cut short meanwhile is refused, never half served.
   *
   * @throws SnapshotException if the file is truncated, corrupt, of another format, or inconsistent
   */
  public static HnswIndex readOnHeap(Path file) {
    return SnapshotSections.readOnHeap(file);
  }

  /**
   * Opens, verifies and memory-maps a snapshot.
   *
   * @throws SnapshotException if the file is truncated, corrupt, of another format, or inconsistent
   */
  public static HnswIndex read(Path file) {
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      long size = ch.size();
      SnapshotSections.Header h = SnapshotSections.header(ch, file, size, null);
      long trailerStart = size - TRAILER_BYTES;
      verifyChecksum(ch, file, trailerStart);
      SnapshotSections s = new SnapshotSections(h.levels());
      for (SnapshotSections.Entry e : SnapshotSections.entries(ch, file, h, trailerStart, null)) {
        ByteBuffer buf = ch.map(FileChannel.MapMode.READ_ONLY, e.off(), e.bytes()).order(ByteOrder.LITTLE_ENDIAN);
        s.put(file, e, switch (e.kind()) {
          case ITEM_IDS, TOMBSTONES -> buf.asLongBuffer();
          case EMBEDDINGS -> buf.asFloatBuffer();
          case NODES, OFFSETS, NEIGHBORS -> buf.asIntBuffer();
          default -> buf;
        });
      }
      return s.assemble(file, h, hexChecksum(ch, trailerStart));
    } catch (IOException e) {
      throw new SnapshotException("cannot read snapshot " + file + ": " + e, e);
    }
  }

  private static ByteBuffer attributeBytes(ItemAttributes attributes) {
    java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
    ByteBuffer word = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
    java.util.function.IntConsumer putInt = v -> bytes.write(word.clear().putInt(v).array(), 0, 4);
    java.util.function.Consumer<String> putStr = v -> {
      byte[] b = v.getBytes(StandardCharsets.UTF_8);
      putInt.accept(b.length);
      bytes.write(b, 0, b.length);
    };
    putInt.accept(attributes.postings().size());
    attributes.postings().forEach((key, values) -> {
      putStr.accept(key);
      putInt.accept(values.size());
      values.forEach((value, nodes) -> {
        putStr.accept(value);
        putInt.accept(nodes.length);
        for (int node : nodes) {
          putInt.accept(node);
        }
      });
    });
    return ByteBuffer.wrap(bytes.toByteArray());
  }

  /**
   * The index version a snapshot's header names (24 bytes read; nothing verified, {@link #read} does):
   * a cheap check that a descriptor names a real snapshot of its version.
   */
  public static long storedVersion(Path file) {
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      ByteBuffer head = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN);
      readFully(ch, head, 0);
      byte[] magic = new byte[8];
      head.flip().get(magic);
      if (!java.util.Arrays.equals(magic, MAGIC)) {
        throw new SnapshotException("not a nann snapshot (bad magic)");
      }
      return head.getLong(16);
    } catch (IOException e) {
      throw new SnapshotException("cannot read the snapshot header: " + e.getMessage(), e);
    }
  }

  /**
   * Opens the embedding section of snapshot {@code verified} (as {@link #read} returned it) for
   * positional row reads ({@link EmbeddingRows}), after checking that the file still stores its
   * checksum and declares its dimension and size (the header is read again here, unverified).
   *
   * @throws SnapshotException if the file is not that snapshot any more, or lacks the section
   */
  public static EmbeddingRows embeddingRows(Path file, HnswIndex verified) {
    return embeddingRows(file, verified.sha256(), verified.dim(), verified.size());
  }

  static EmbeddingRows embeddingRows(Path file, String sha256, int expectedDim, int expectedCount) {
    FileChannel ch = null;
    try {
      ch = FileChannel.open(file, StandardOpenOption.READ);
      long size = ch.size();
      if (size < FIXED_HEADER + TRAILER_BYTES || !hexChecksum(ch, size - TRAILER_BYTES).equalsIgnoreCase(sha256)) {
        throw new SnapshotException("snapshot " + file + " is not the one verified (SHA-256 " + sha256 + ")");
      }
      SnapshotSections.Header h = SnapshotSections.header(ch, file, size, null);
      if (h.dim() != expectedDim || h.count() != expectedCount) {
        throw new SnapshotException("snapshot " + file + " is not the one verified (its header changed)");
      }
      for (SnapshotSections.Entry e : SnapshotSections.entries(ch, file, h, size - TRAILER_BYTES, null)) {
        if (e.kind() == EMBEDDINGS && e.bytes() == (long) h.count() * h.dim() * Float.BYTES) {
          return new EmbeddingRows(file, sha256, ch, e.off(), h.dim(), h.count());
        }
      }
      throw new SnapshotException("snapshot " + file + " lacks its embedding section");
    } catch (IOException | RuntimeException e) {
      if (ch != null) {
        try {
          ch.close();
        } catch (IOException ignored) {
          // the first failure is the one to report
        }
      }
      throw e instanceof SnapshotException se ? se : new SnapshotException("cannot read snapshot " + file + ": " + e, e);
    }
  }

  /** Hex SHA-256 stored in a snapshot's trailer (does not verify it; {@link #read} does). */
  public static String storedChecksum(Path file) {
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      if (ch.size() < TRAILER_BYTES) {
        throw new SnapshotException("snapshot " + file + " is truncated");
      }
      return hexChecksum(ch, ch.size() - TRAILER_BYTES);
    } catch (IOException e) {
      throw new SnapshotException("cannot read snapshot " + file + ": " + e, e);
    }
  }

  static String hexChecksum(FileChannel ch, long trailerStart) throws IOException {
    ByteBuffer stored = ByteBuffer.allocate(32);
    readFully(ch, stored, trailerStart + 8);
    return HexFormat.of().formatHex(stored.array());
  }

  private static void verifyChecksum(FileChannel ch, Path file, long trailerStart) throws IOException {
    byte[] t = trailer(ch, file, trailerStart);
    MessageDigest sha = sha256();
    long chunk = 1L << 28;
    for (long pos = 0; pos < trailerStart; pos += chunk) {
      long len = Math.min(chunk, trailerStart - pos);
      MappedByteBuffer part = ch.map(FileChannel.MapMode.READ_ONLY, pos, len);
      sha.update(part);
    }
    requireDigest(file, t, sha.digest());
  }

  /** The trailer's bytes, refused unless they start with the trailer's magic. */
  static byte[] trailer(FileChannel ch, Path file, long trailerStart) throws IOException {
    ByteBuffer trailer = ByteBuffer.allocate(TRAILER_BYTES);
    readFully(ch, trailer, trailerStart);
    byte[] t = trailer.array();
    if (!java.util.Arrays.equals(t, 0, 8, TRAILER_MAGIC, 0, 8)) {
      throw new SnapshotException("snapshot " + file + " is truncated or corrupt: no checksum trailer at its end");
    }
    return t;
  }

  /** Refuses a file whose bytes hashed to {@code actual} where its trailer {@code t} stores another digest. */
  static void requireDigest(Path file, byte[] t, byte[] actual) {
    if (!java.util.Arrays.equals(actual, 0, 32, t, 8, 40)) {
      throw new SnapshotException("snapshot " + file + " is corrupt: SHA-256 " + HexFormat.of().formatHex(actual)
          + " does not match the stored " + HexFormat.of().formatHex(t, 8, 40));
    }
  }

  private static long writeHashed(FileChannel out, ByteBuffer data, MessageDigest sha) throws IOException {
    long n = data.remaining();
    sha.update(data.duplicate());
    while (data.hasRemaining()) {
      out.write(data);
    }
    return n;
  }

  static void readFully(FileChannel ch, ByteBuffer dst, long pos) throws IOException {
    while (dst.hasRemaining()) {
      int n = ch.read(dst, pos);
      if (n < 0) {
        throw new SnapshotException("unexpected end of snapshot file at byte " + pos);
      }
      pos += n;
    }
  }

  static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("the JVM has no SHA-256", e);
    }
  }

  private static long align(long v) {
    return (v + ALIGN - 1) / ALIGN * ALIGN;
  }

  private static int align(int v) {
    return (int) align((long) v);
  }

  private static ByteBuffer intBytes(IntBuffer src, long version, String section) {
    ByteBuffer b = ByteBuffer.allocate(SnapshotChecks.sectionBytes(version, section, src.limit(), 4))
        .order(ByteOrder.LITTLE_ENDIAN);
    b.asIntBuffer().put(src.duplicate().rewind());
    return b;
  }

  private static ByteBuffer longBytes(LongBuffer src, long version, String section) {
    ByteBuffer b = ByteBuffer.allocate(SnapshotChecks.sectionBytes(version, section, src.limit(), 8))
        .order(ByteOrder.LITTLE_ENDIAN);
    b.asLongBuffer().put(src.duplicate().rewind());
    return b;
  }

  private static ByteBuffer floatBytes(FloatBuffer src, long version) {
    ByteBuffer b = ByteBuffer.allocate(SnapshotChecks.sectionBytes(version, "embedding", src.limit(), 4))
        .order(ByteOrder.LITTLE_ENDIAN);
    b.asFloatBuffer().put(src.duplicate().rewind());
    return b;
  }
}
