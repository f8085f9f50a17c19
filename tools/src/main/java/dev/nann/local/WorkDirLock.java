package dev.nann.local;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
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

  /**
   * Work directories this JVM holds: checked before a channel is opened, since closing any channel on
   * a locked file releases every lock the process holds on it (POSIX record locks).
   */
  private static final java.util.Set<Path> HELD = java.util.concurrent.ConcurrentHashMap.newKeySet();

  private final Path dir;
  private final FileChannel channel;
  private final FileLock lock;

  private WorkDirLock(Path dir, FileChannel channel, FileLock lock) {
    this.dir = dir;
    this.channel = channel;
    this.lock = lock;
  }

  /** Locks {@code workDir} (made if missing); refuses one another stack holds, naming it. */
  static WorkDirLock acquire(Path workDir) throws IOException {
    Files.createDirectories(workDir);
    Path dir = workDir.toRealPath();
    if (!HELD.add(dir)) {
      throw inUse(workDir);
    }
    FileChannel channel = null;
    try {
      channel = FileChannel.open(dir.resolve(FILE), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
      FileLock lock;
      try {
        lock = channel.tryLock();
      } catch (IOException unsupported) {   // a file system without locks (NFS without lockd): run unguarded
        System.err.println("[local] cannot lock " + dir + " (" + unsupported.getMessage() + "): another stack started "
            + "on it would empty it under this one");
        return new WorkDirLock(dir, channel, null);
      }
      if (lock == null) {
        channel.close();
        HELD.remove(dir);
        throw inUse(workDir);
      }
      return new WorkDirLock(dir, channel, lock);
    } catch (IOException | RuntimeException e) {
      if (channel != null && channel.isOpen()) {
        channel.close();
      }
      HELD.remove(dir);
      throw e;
    }
  }

  private static IllegalStateException inUse(Path workDir) {
    return new IllegalStateException(workDir + " is in use by another local nann stack (a demo or a benchmark that "
        + "is still running): stop it, or give this one another --work-dir");
  }

  @Override
  public void close() throws IOException {
    try {
      if (lock != null) {
        lock.release();
      }
    } finally {
      try {
        channel.close();
      } finally {
        HELD.remove(dir);
      }
    }
  }
}
