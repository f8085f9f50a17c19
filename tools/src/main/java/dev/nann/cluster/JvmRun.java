package dev.nann.cluster;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A child JVM run to its end: for work that must happen in a process of its own (a measurement of
 * native memory, a class loader that must be seen collected). Its output goes to a temporary file,
 * not a pipe that could fill and stall it, and is read back whole.
 *
 * @param ended whether it ended within the limit (if not, it was killed)
 * @param exitCode its exit code; -1 when it did not end
 * @param output its standard output and error
 */
public record JvmRun(boolean ended, int exitCode, String output) {
  /**
   * Runs {@code java <args>} with this JVM's {@code java}, killing it after {@code limit}.
   *
   * @param args JVM options, then the main class (or {@code -cp …} and the class) and its arguments
   */
  public static JvmRun of(List<String> args, Duration limit) throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.addAll(args);
    Path log = Files.createTempFile("nann-child-jvm", ".log");
    try {
      Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
      boolean ended;
      try {
        ended = p.waitFor(limit.toMillis(), TimeUnit.MILLISECONDS);
      } finally {
        p.destroyForcibly();   // gone already unless it ran out of time or this thread was interrupted
      }
      p.waitFor(10, TimeUnit.SECONDS);
      // bytes, not a strict UTF-8 read: a crash report may hold anything, and the output is wanted most then
      return new JvmRun(ended, ended ? p.exitValue() : -1, new String(Files.readAllBytes(log), StandardCharsets.UTF_8));
    } finally {
      Files.deleteIfExists(log);
    }
  }
}
