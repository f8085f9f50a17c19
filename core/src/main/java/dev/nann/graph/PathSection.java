package dev.nann.graph;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;

/**
 * The snapshot's {@code PATHS} section: Deep Retrieval's path codes and the structure they belong to.
 *
 * <pre>
 * i32 J | i64[count*J] path codes (-1 = none) | i32 D | i32 K | u8[32] structure SHA-256
 * </pre>
 *
 * The last 40 bytes ({@link DrStructureId}) were added after the first snapshots with paths: a
 * section that ends with the codes still reads, as a table whose structure is unknown. The section's
 * length tells the two apart, as the item count is in the header.
 */
final class PathSection {
  private static final int IDENTITY_BYTES = 4 + 4 + DrStructureId.DIGEST_BYTES;

  private PathSection() {
  }

  /** The section for {@code paths} of index version {@code version} (its structure, if known, included). */
  static ByteBuffer bytes(ItemPaths paths, long version) {
    long[] codes = paths.codes();
    long total = 4 + 8L * codes.length + (paths.structure().isPresent() ? IDENTITY_BYTES : 0);
    int bytes = SnapshotChecks.sectionBytes(version, "Deep Retrieval path", total, 1);
    ByteBuffer b = ByteBuffer.allocate(bytes).order(ByteOrder.LITTLE_ENDIAN);
    b.putInt(paths.perItem());
    b.asLongBuffer().put(codes);
    b.position(4 + 8 * codes.length);
    paths.structure().ifPresent(s -> b.putInt(s.depth()).putInt(s.width()).put(s.digest()));
    return b.rewind();
  }

  /**
   * Reads a section of a snapshot of {@code count} items.
   *
   * @throws SnapshotException when its length fits neither layout, or its structure is malformed or
   *     gives another J than the codes have
   */
  static ItemPaths read(Path file, ByteBuffer buf, int count) {
    ByteBuffer b = buf.duplicate().order(ByteOrder.LITTLE_ENDIAN);
    int perItem = b.remaining() >= 4 ? b.getInt() : -1;
    long codeBytes = (long) count * Math.max(perItem, 0) * 8;
    boolean identified = b.remaining() == codeBytes + IDENTITY_BYTES;
    if (perItem < 1 || b.remaining() != codeBytes && !identified) {
      throw new SnapshotException("snapshot " + file + " has a malformed path section (" + perItem + " per item, "
          + b.remaining() + " bytes for " + count + " items)");
    }
    long[] codes = new long[count * perItem];
    b.asLongBuffer().get(codes);
    if (!identified) {
      return ItemPaths.of(codes, perItem);
    }
    b.position(b.position() + (int) codeBytes);
    int depth = b.getInt();
    int width = b.getInt();
    byte[] digest = new byte[DrStructureId.DIGEST_BYTES];
    b.get(digest);
    try {
      return ItemPaths.of(codes, perItem, DrStructureId.of(depth, width, perItem, digest));
    } catch (IllegalArgumentException e) {
      throw new SnapshotException("snapshot " + file + " has a malformed path section: " + e.getMessage(), e);
    }
  }
}
