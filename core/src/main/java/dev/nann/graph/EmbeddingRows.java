package dev.nann.graph;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;

/**
 * The embedding rows of a snapshot file, read one at a time with positional reads instead of
 * through a memory mapping: a mapped file cut short or written over in place faults the thread
 * that touches it (the JVM then throws an InternalError at some later point, outside any handler),
 * where a read simply comes back short. For lookups of a few rows per request in files a process
 * does not otherwise keep on its heap. Thread-safe; close it to release the file.
 */
public final class EmbeddingRows implements AutoCloseable {
  private final Path file;
  private final FileChannel channel;
  private final long offset;
  private final int dim;
  private final int count;

  EmbeddingRows(Path file, FileChannel channel, long offset, int dim, int count) {
    this.file = file;
    this.channel = channel;
    this.offset = offset;
    this.dim = dim;
    this.count = count;
  }

  public int dim() {
    return dim;
  }

  /**
   * Copies node {@code node}'s embedding into {@code dst} at {@code dstOffset}.
   *
   * @throws UncheckedIOException when the file cannot be read there (cut short since it was opened)
   */
  public void copyRow(int node, float[] dst, int dstOffset) {
    if (node < 0 || node >= count) {
      throw new IndexOutOfBoundsException("node " + node + " of " + count);
    }
    ByteBuffer row = ByteBuffer.allocate(dim * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
    long at = offset + (long) node * dim * Float.BYTES;
    try {
      while (row.hasRemaining()) {
        if (channel.read(row, at + row.position()) < 0) {
          throw new IOException("snapshot " + file + " ends at byte " + channel.size() + ", before row " + node
              + " (it was cut short after it was opened)");
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    row.flip().asFloatBuffer().get(dst, dstOffset, dim);
  }

  @Override
  public void close() {
    try {
      channel.close();
    } catch (IOException e) {
      // nothing to release beyond the descriptor
    }
  }
}
