package dev.nann.local;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * An operating-system lock on a local stack's work directory, held while the stack runs: a second
 * {@code ./nann demo} or benchmark on the same directory would empty it under the running broker,
 * job and snapshots. The lock file stays in the directory (emptying it keeps the file); the lock
 * goes with the process, so a killed stack leaves nothing to clean up by hand.
 */
final class WorkDirLock implements AutoCloseable {
  static final String FILE = ".nann-local-stack.lock";

  private final FileChannel channel;
  private final FileLock lock;

  private WorkDirLock(FileChannel channel, FileLock lock) {
    this.channel = channel;
    this.lock = lock;
  }

  /** Locks {@code workDir} (made if missing); refuses one another stack holds, naming it. */
  static WorkDirLock acquire(Path workDir) throws IOException {
    Files.createDirectories(workDir);
    FileChannel channel = FileChannel.open(workDir.resolve(FILE), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
    FileLock lock;
    try {
      lock = channel.tryLock();
    } catch (OverlappingFileLockException sameProcess) {
      lock = null;
    } catch (IOException | RuntimeException e) {
      channel.close();
      throw e;
    }
    if (lock == null) {
      channel.close();
      throw new IllegalStateException(workDir + " is in use by another local nann stack (a demo or a benchmark that "
          + "is still running): stop it, or give this one another --work-dir");
    }
    return new WorkDirLock(channel, lock);
  }

  @Override
  public void close() throws IOException {
    try {
      lock.release();
    } finally {
      channel.close();
    }
  }
}
