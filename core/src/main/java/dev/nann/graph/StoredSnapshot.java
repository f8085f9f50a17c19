package dev.nann.graph;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * What a snapshot file says about itself without being read whole ({@link SnapshotFormat} reads and
 * verifies): cheap looks for index-sync's decisions, nothing verified.
 */
public final class StoredSnapshot {
  private StoredSnapshot() {
  }

  /**
   * The live items of a snapshot: its header's node count less its tombstones (the header and the
   * tombstone bitmap read, a few hundred KB at most; nothing verified): about how large the catalogue
   * was when it was built.
   */
  public static int liveItems(Path file) {
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      ByteBuffer fixed = ByteBuffer.allocate(SnapshotFormat.FIXED_HEADER).order(ByteOrder.LITTLE_ENDIAN);
      SnapshotFormat.readFully(ch, fixed, 0);
      byte[] magic = new byte[8];
      fixed.flip().get(magic);
      if (!java.util.Arrays.equals(magic, SnapshotFormat.MAGIC)) {
        throw new SnapshotException("not a nann snapshot (bad magic)");
      }
      int nodes = fixed.getInt(28);
      int sections = fixed.getInt(SnapshotFormat.FIXED_HEADER - 4);
      if (sections < 0 || sections > 1 << 16) {
        throw new SnapshotException("malformed section table");
      }
      ByteBuffer table = ByteBuffer.allocate(sections * SnapshotFormat.SECTION_ENTRY).order(ByteOrder.LITTLE_ENDIAN);
      SnapshotFormat.readFully(ch, table, SnapshotFormat.FIXED_HEADER);
      table.flip();
      for (int i = 0; i < sections; i++) {
        int kind = table.getInt();
        table.getInt();
        long offset = table.getLong();
        long length = table.getLong();
        if (kind == SnapshotFormat.TOMBSTONES) {
          if (length < 0 || length > (long) nodes / 8 + 64 || offset < 0 || offset + length > ch.size()) {
            throw new SnapshotException("malformed tombstone section");
          }
          ByteBuffer words = ByteBuffer.allocate((int) length).order(ByteOrder.LITTLE_ENDIAN);
          SnapshotFormat.readFully(ch, words, offset);
          words.flip();
          int dead = 0;
          while (words.remaining() >= Long.BYTES) {
            dead += Long.bitCount(words.getLong());
          }
          return nodes - dead;
        }
      }
      return nodes;
    } catch (IOException e) {
      throw new SnapshotException("cannot read the snapshot header: " + e.getMessage(), e);
    }
  }
}
