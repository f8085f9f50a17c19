package dev.nann.scorer;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Removes the copies of ONNX Runtime's native libraries that processes which ended without cleaning
 * up left in the temporary directory. ONNX Runtime's Java binding copies its libraries (28 MB on
 * the CPU, several hundred MB with CUDA) into a new {@code onnxruntime-java*} directory at every
 * start and deletes them only at a clean exit, so each killed or crashed TaskManager left one
 * behind: on a host whose TaskManagers restart after failures, they fill the disk.
 *
 * <p>A directory is removed only when it is named as the binding names them, this user's, private
 * (as the binding creates them), older than {@link #MIN_AGE} (a process that has just created it
 * may still be copying; an empty one older than {@link #EMPTY_MIN_AGE}), and no process maps a
 * file inside it (a running process keeps its directory, also for the provider libraries the
 * binding copies into it later, such as CUDA's). When the map of one of this user's JVMs cannot be
 * read, nothing is removed.
 */
final class OrtLibraryCopies {
  private static final Logger LOG = LoggerFactory.getLogger(OrtLibraryCopies.class);
  static final String PREFIX = "onnxruntime-java";
  static final Duration MIN_AGE = Duration.ofMinutes(10);
  /** Empty directories are kept a day: a process loading from onnxruntime.native.path may still fill one. */
  static final Duration EMPTY_MIN_AGE = Duration.ofDays(1);
  private static final Set<PosixFilePermission> PRIVATE = EnumSet.of(PosixFilePermission.OWNER_READ,
      PosixFilePermission.OWNER_WRITE, PosixFilePermission.OWNER_EXECUTE);

  private OrtLibraryCopies() {}

  /** Removes the stale copies in {@code tmp}; returns how many directories were removed. Never throws. */
  static int sweep(Path tmp) {
    try {
      Instant now = Instant.now();
      List<Path> stale = stale(tmp, now.minus(MIN_AGE), now.minus(EMPTY_MIN_AGE), mappedPaths());
      long bytes = 0;
      int removed = 0;
      for (Path dir : stale) {
        try {
          bytes += deleteTree(dir);
          removed++;
        } catch (IOException gone) {
          // removed meanwhile by its own process at exit, or by another sweeper
        }
      }
      if (removed > 0) {
        LOG.info("removed {} copies of ONNX Runtime's native libraries ({} MB) that ended processes left in {}",
            removed, bytes / 1_000_000, tmp);
      }
      return removed;
    } catch (IOException | RuntimeException e) {
      LOG.debug("stale ONNX Runtime library copies not swept: {}", e.toString());
      return 0;
    }
  }

  /**
   * The directories of {@code tmp} that may go (see the class comment): those holding files must be
   * older than {@code olderThan}, empty ones (a process that loads the libraries from
   * {@code onnxruntime.native.path} still makes one) older than {@code emptyOlderThan}.
   */
  static List<Path> stale(Path tmp, Instant olderThan, Instant emptyOlderThan, List<String> mapped)
      throws IOException {
    List<Path> out = new ArrayList<>();
    String me = System.getProperty("user.name");
    Path real = tmp.toRealPath();   // the maps name real paths; tmp may be a link or relative
    try (DirectoryStream<Path> dirs = Files.newDirectoryStream(real, PREFIX + "[0-9]*")) {
      for (Path dir : dirs) {
        try {
          String suffix = dir.getFileName().toString().substring(PREFIX.length());
          if (!suffix.chars().allMatch(Character::isDigit)   // the binding's names: prefix and a number
              || !Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)
              || !Files.getOwner(dir, LinkOption.NOFOLLOW_LINKS).getName().equals(me)
              || !Files.getPosixFilePermissions(dir, LinkOption.NOFOLLOW_LINKS).equals(PRIVATE)) {
            continue;
          }
          boolean empty;
          try (DirectoryStream<Path> files = Files.newDirectoryStream(dir)) {
            empty = !files.iterator().hasNext();
          }
          Instant modified = Files.getLastModifiedTime(dir, LinkOption.NOFOLLOW_LINKS).toInstant();
          if (modified.isAfter(empty ? emptyOlderThan : olderThan)) {
            continue;
          }
          String prefix = dir + "/";
          if (mapped.stream().noneMatch(p -> p.startsWith(prefix))) {
            out.add(dir);
          }
        } catch (IOException gone) {
          // removed meanwhile: nothing to sweep
        }
      }
    }
    return out;
  }

  /**
   * Every file path mapped by a process whose map this user can read.
   *
   * @throws IOException if the map of one of this user's JVMs cannot be read (one that is not
   *     dumpable): its copies could not be told from stale ones
   */
  static List<String> mappedPaths() throws IOException {
    List<String> paths = new ArrayList<>();
    String me = System.getProperty("user.name");
    try (DirectoryStream<Path> procs = Files.newDirectoryStream(Path.of("/proc"), "[0-9]*")) {
      for (Path proc : procs) {
        List<String> lines;
        try {
          lines = Files.readAllLines(proc.resolve("maps"));
        } catch (NoSuchFileException gone) {
          continue;   // ended meanwhile
        } catch (IOException | SecurityException unreadable) {
          if (ownedByMe(proc, me) && isJava(proc)) {
            throw new IOException("cannot read " + proc.resolve("maps") + " of one of this user's JVMs");
          }
          continue;   // another user's (it cannot open this user's private directories), or no JVM
        }
        for (String line : lines) {
          int slash = line.indexOf('/');
          if (slash >= 0) {
            paths.add(line.substring(slash));
          }
        }
      }
    }
    return paths;
  }

  /** Whether the process runs a JVM, the only kind that uses the binding's copies. */
  private static boolean isJava(Path proc) {
    try {
      return Files.readString(proc.resolve("comm")).strip().equals("java");
    } catch (IOException unreadable) {
      return true;   // cannot tell: assume it might
    }
  }

  private static boolean ownedByMe(Path proc, String me) {
    try {
      return Files.getOwner(proc).getName().equals(me);
    } catch (IOException gone) {
      return false;
    }
  }

  private static long deleteTree(Path dir) throws IOException {
    long bytes = 0;
    try (Stream<Path> files = Files.walk(dir)) {
      for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
        bytes += Files.isRegularFile(p) ? Files.size(p) : 0;
        Files.deleteIfExists(p);
      }
    }
    return bytes;
  }
}
