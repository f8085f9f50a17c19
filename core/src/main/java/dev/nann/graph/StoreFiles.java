package dev.nann.graph;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.UUID;

/**
 * How a file enters a snapshot store: written to a uniquely named temporary file in the same
 * directory, forced, then given its final name without ever replacing another file of that name.
 * A store's file names carry versions, and a version must never name two different files: two
 * writers of one version (two containers are both pid 1, so a pid is no unique name) would
 * otherwise overwrite each other, and readers would see one version with two SHA-256s.
 */
public final class StoreFiles {
  private StoreFiles() {
  }

  /**
   * A new, empty, uniquely named temporary file next to {@code target} (hidden, so no store listing
   * counts it). Not {@code Files.createTempFile}: its owner-only permissions would hide the
   * published file from serving processes that run as another user.
   */
  public static Path tempFile(Path target) throws IOException {
    Path dir = directoryOf(target);
    Files.createDirectories(dir);
    return Files.createFile(dir.resolve("." + target.getFileName() + "." + UUID.randomUUID() + ".tmp"));
  }

  /**
   * Gives the written and forced {@code tmp} the name {@code target}, then forces the directory so
   * the name survives a crash. A hard link is atomic and fails rather than replace; where the file
   * system has no hard links, a move without replacing. {@code tmp} is left for the caller to delete.
   * When {@code target} already exists with the same bytes (another writer published exactly this),
   * that is fine.
   *
   * @throws SnapshotException when {@code target} exists with other bytes
   */
  public static void publish(Path tmp, Path target) throws IOException {
    try {
      Files.createLink(target, tmp);
    } catch (FileAlreadyExistsException e) {
      requireSame(tmp, target);
    } catch (UnsupportedOperationException | FileSystemException e) {
      try {
        Files.move(tmp, target);   // not atomic against a racing writer, but never replaces
      } catch (FileAlreadyExistsException exists) {
        requireSame(tmp, target);
      }
    }
    forceDirectory(directoryOf(target));
  }

  private static void requireSame(Path tmp, Path target) throws IOException {
    if (Files.mismatch(tmp, target) != -1) {
      throw new SnapshotException(target + " already exists with other contents; not replacing it: a version "
          + "number names one file only. Another writer published this version (two index-sync jobs writing to "
          + "one snapshot.dir?); publish under the next free version");
    }
  }

  /** Age past which a temporary file is taken for one an interrupted write left: no write takes an hour. */
  public static final long STALE_TEMPORARY_MILLIS = 3_600_000;

  /**
   * Deletes the temporary files {@link #tempFile} made in {@code dir} that are older than {@code
   * olderThanMillis}: a write killed half way (an OOM kill, a node lost) leaves a file as large as a
   * snapshot under a name no store listing counts. Returns what it deleted.
   */
  public static java.util.List<Path> sweepTemporary(Path dir, long olderThanMillis) throws IOException {
    java.util.List<Path> deleted = new java.util.ArrayList<>();
    if (!Files.isDirectory(dir)) {
      return deleted;
    }
    long cutoff = System.currentTimeMillis() - olderThanMillis;
    try (java.util.stream.Stream<Path> files = Files.list(dir)) {
      for (Path p : files.toList()) {
        String name = p.getFileName().toString();
        if (!name.startsWith(".") || !name.endsWith(".tmp")) {
          continue;
        }
        try {
          if (Files.getLastModifiedTime(p).toMillis() < cutoff && Files.deleteIfExists(p)) {
            deleted.add(p);
          }
        } catch (java.nio.file.NoSuchFileException gone) {
          // a writer beside this sweep (another shard's build) finished and removed its temporary file
        }
      }
    }
    return deleted;
  }

  /** Forces a directory's entries to disk; file systems that cannot (an IOException for a directory) are skipped. */
  static void forceDirectory(Path dir) {
    try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
      ch.force(true);
    } catch (IOException ignored) {
      // some file systems refuse to open or force a directory; the rename is then as durable as they make it
    }
  }

  private static Path directoryOf(Path target) {
    Path parent = target.toAbsolutePath().getParent();
    if (parent == null) {
      throw new IllegalArgumentException(target + " has no directory");
    }
    return parent;
  }
}
