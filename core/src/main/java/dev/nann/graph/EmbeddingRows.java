package dev.nann.graph;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ClosedByInterruptException;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;

/**
 * The embedding rows of a snapshot file, read one at a time with positional reads instead of
 * through a memory mapping: a mapped file cut short or written over in place faults the thread
 * that touches it (the JVM then throws an InternalError at some later point, outside any handler),
 * where a read simply comes back short ({@link FileChanged}). For lookups of a few rows per request in
 * files a process does not otherwise keep on its heap. Thread-safe. The channel is reopened (and
 * checked against the verified checksum again) when a reader's interrupt closed it for all; it is
 * released with this object, or by {@link #close}.
 */
public final class EmbeddingRows implements AutoCloseable {
  private final Path file;
  private final String sha256;
  private final long offset;
  private final int dim;
  private final int count;
  private volatile FileChannel channel;

  EmbeddingRows(Path file, String sha256, FileChannel channel, long offset, int dim, int count) {
    this.file = file;
    this.sha256 = sha256;
    this.channel = channel;
    this.offset = offset;
    this.dim = dim;
    this.count = count;
  }

  /** The file is not the one verified any more: it ends before a row it must hold, or reopened it is another. */
  public static final class FileChanged extends RuntimeException {
    FileChanged(String message) {
      super(message);
    }
  }

  public int dim() {
    return dim;
  }

  /**
   * Copies node {@code node}'s embedding into {@code dst} at {@code dstOffset}.
   *
   * @throws FileChanged when the file ends before the row, or is not the file verified any more
   * @throws UncheckedIOException when the file cannot be read now (an I/O error, or this thread was interrupted)
   */
  public void copyRow(int node, float[] dst, int dstOffset) {
    if (node < 0 || node >= count) {
      throw new IndexOutOfBoundsException("node " + node + " of " + count);
    }
    ByteBuffer row = ByteBuffer.allocate(dim * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
    long at = offset + (long) node * dim * Float.BYTES;
    for (int attempt = 0; ; attempt++) {
      FileChannel ch = channel;
      try {
        while (row.hasRemaining()) {
          if (ch.read(row, at + row.position()) < 0) {
            throw new FileChanged("snapshot " + file + " ends at byte " + ch.size() + ", before row " + node
                + " (it was cut short after it was verified)");
          }
        }
        row.flip().asFloatBuffer().get(dst, dstOffset, dim);
        return;
      } catch (ClosedByInterruptException interrupted) {
        throw new UncheckedIOException(interrupted);   // this thread is being stopped; the next reader reopens
      } catch (ClosedChannelException closed) {
        if (attempt > 0) {
          throw new UncheckedIOException(closed);
        }
        reopen(ch);   // another reader's interrupt closed it for every reader
        row.clear();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  }

  private synchronized void reopen(FileChannel closed) {
    if (channel == closed) {
      try {
        EmbeddingRows again = SnapshotFormat.embeddingRows(file, sha256, dim, count);
        if (again.offset != offset) {
          again.close();
          throw new SnapshotException("its embedding section moved");
        }
        channel = again.channel;
      } catch (SnapshotException e) {
        throw new FileChanged("snapshot " + file + " cannot be opened again as the file verified: " + e.getMessage());
      }
    }
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
