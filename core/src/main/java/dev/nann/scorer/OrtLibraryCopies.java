package dev.nann.scorer;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumSet;
import java.util.List;
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
 * <p>A directory is removed only when it is this user's, private (as the binding creates them),
 * older than {@link #MIN_AGE} (a process that has just created it may still be copying), and no
 * process of this user maps a file inside it (a running process keeps its directory, also for the
 * provider libraries the binding copies into it later, such as CUDA's).
 */
final class OrtLibraryCopies {
  private static final Logger LOG = LoggerFactory.getLogger(OrtLibraryCopies.class);
  static final String PREFIX = "onnxruntime-java";
  static final Duration MIN_AGE = Duration.ofMinutes(10);

  private OrtLibraryCopies() {}

  /** Removes the stale copies in {@code tmp}; returns how many directories were removed. Never throws. */
  static int sweep(Path tmp) {
    try {
      List<Path> stale = stale(tmp, Instant.now().minus(MIN_AGE), mappedPaths());
      long bytes = 0;
      for (Path dir : stale) {
        bytes += deleteTree(dir);
      }
      if (!stale.isEmpty()) {
        LOG.info("removed {} copies of ONNX Runtime's native libraries ({} MB) that ended processes left in {}",
            stale.size(), bytes / 1_000_000, tmp);
      }
      return stale.size();
    } catch (IOException | RuntimeException e) {
      LOG.debug("stale ONNX Runtime library copies not swept: {}", e.toString());
      return 0;
    }
  }

  /** The directories of {@code tmp} that may go: see the class comment. */
  static List<Path> stale(Path tmp, Instant olderThan, List<String> mapped) throws IOException {
    List<Path> out = new ArrayList<>();
    String me = System.getProperty("user.name");
    try (DirectoryStream<Path> dirs = Files.newDirectoryStream(tmp, PREFIX + "*")) {
      for (Path dir : dirs) {
        if (!Files.isDirectory(dir, java.nio.file.LinkOption.NOFOLLOW_LINKS)
            || !Files.getOwner(dir).getName().equals(me)
            || !Files.getPosixFilePermissions(dir).equals(EnumSet.of(PosixFilePermission.OWNER_READ,
                PosixFilePermission.OWNER_WRITE, PosixFilePermission.OWNER_EXECUTE))
            || Files.getLastModifiedTime(dir).toInstant().isAfter(olderThan)) {
          continue;
        }
        String prefix = dir.toAbsolutePath() + "/";
        if (mapped.stream().noneMatch(p -> p.startsWith(prefix))) {
          out.add(dir);
        }
      }
    }
    return out;
  }

  /** Every file path mapped by a process whose map this user can read (its own processes at least). */
  static List<String> mappedPaths() throws IOException {
    List<String> paths = new ArrayList<>();
    try (DirectoryStream<Path> procs = Files.newDirectoryStream(Path.of("/proc"), "[0-9]*")) {
      for (Path proc : procs) {
        List<String> lines;
        try {
          lines = Files.readAllLines(proc.resolve("maps"));
        } catch (IOException | SecurityException gone) {
          continue;   // ended meanwhile, or another user's (whose processes cannot open our private directories)
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
