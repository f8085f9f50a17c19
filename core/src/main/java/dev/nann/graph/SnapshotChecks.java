package dev.nann.graph;

import java.nio.IntBuffer;
import java.nio.LongBuffer;
import java.nio.file.Path;
import java.util.Locale;

/**
 * The limits and the consistency rules of a snapshot beyond its checksum. A file can carry a
 * correct SHA-256 and still be wrong (a faulty or hostile writer checksums what it wrote), so what
 * the walk and its binary searches assume is checked once at load, where a refusal leaves the
 * previous version serving, instead of failing on every query later.
 */
final class SnapshotChecks {
  /** Largest section: written from one Java array (at most about 2^31 bytes) and mapped as one buffer. */
  static final long MAX_SECTION_BYTES = Integer.MAX_VALUE - 8;

  private SnapshotChecks() {
  }

  /**
   * Bytes of a section of {@code elements} values of {@code width} bytes each, computed in long so
   * a large build fails with a message, not an int overflow.
   *
   * @throws SnapshotException when the section would pass {@link #MAX_SECTION_BYTES}
   */
  static int sectionBytes(long version, String section, long elements, int width) {
    long bytes = elements * width;
    if (bytes > MAX_SECTION_BYTES) {
      throw new SnapshotException(String.format(Locale.ROOT, "index version %d cannot be written: its %s section "
          + "would take %,d bytes, and a snapshot section holds at most 2 GiB (%,d bytes; about 8M items at d = 64). "
          + "Split the catalogue into shards (index.shards, see docs/operations.md, Sharding the index) so that "
          + "each shard's file stays under it", version, section, bytes, MAX_SECTION_BYTES));
    }
    return (int) bytes;
  }

  /**
   * Every level's CSR: offsets start at 0, never decrease and end at the neighbour count;
   * neighbours are node ids; an upper level's node list is strictly ascending (rows are found by
   * binary search) and inside {@code [0, count)}.
   */
  static void checkAdjacency(Path file, int count, IntBuffer[] offsets, IntBuffer[] neighbors, IntBuffer[] nodes) {
    for (int level = 0; level < offsets.length; level++) {
      IntBuffer off = offsets[level];
      IntBuffer nbr = neighbors[level];
      int rows = level == 0 ? count : nodes[level].limit();
      if (level > 0) {
        checkNodes(file, level, nodes[level], count);
      }
      if (off.limit() != rows + 1 || off.get(0) != 0 || off.get(rows) != nbr.limit()) {
        throw new SnapshotException("snapshot " + file + " level " + level
            + " offsets do not match its neighbour list");
      }
      for (int row = 0; row < rows; row++) {
        if (off.get(row + 1) < off.get(row)) {
          throw new SnapshotException("snapshot " + file + " level " + level + " offsets decrease at row " + row + " ("
              + off.get(row) + ", then " + off.get(row + 1) + ")");
        }
      }
      for (int i = 0; i < nbr.limit(); i++) {
        int v = nbr.get(i);
        if (v < 0 || v >= count) {
          throw new SnapshotException("snapshot " + file + " level " + level + " has neighbour id " + v
              + " outside [0, " + count + ")");
        }
      }
    }
  }

  private static void checkNodes(Path file, int level, IntBuffer nodes, int count) {
    for (int i = 0; i < nodes.limit(); i++) {
      int v = nodes.get(i);
      if (v < 0 || v >= count || (i > 0 && v <= nodes.get(i - 1))) {
        throw new SnapshotException("snapshot " + file + " level " + level + " node list is not strictly ascending "
            + "inside [0, " + count + "): node " + v + " at position " + i);
      }
    }
  }

  /** Tombstones only on nodes: at most {@code ceil(count / 64)} words, no bit at or past {@code count}. */
  static void checkTombstones(Path file, int count, LongBuffer words) {
    int most = (int) ((count + 63L) / 64);
    int n = words.limit();
    boolean pastLast = n == most && n > 0 && count % 64 != 0 && (words.get(n - 1) >>> (count % 64)) != 0;
    if (n > most || pastLast) {
      throw new SnapshotException("snapshot " + file + " has a tombstone past its last node (" + n + " tombstone words "
          + "for " + count + " nodes, at most " + most + ")");
    }
  }
}
