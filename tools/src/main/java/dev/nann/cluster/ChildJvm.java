package dev.nann.cluster;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Starts a Java process that outlives the JVM that started it (output to a log file, no pipes), and
 * finds it again by pid. Every child carries {@code -Dnann.cluster=<home>} so that a pid reused by
 * the operating system is never mistaken for (and killed as) one of ours.
 */
final class ChildJvm {
  private ChildJvm() {}

  /**
   * Starts {@code mainClass} and returns its process (whose pid {@link #find} takes).
   *
   * @param marker the cluster home, written into the child's command line
   * @param out where stdout and stderr go (appended)
   */
  static Process start(String marker, List<String> jvmArgs, String classpath, String mainClass, List<String> args,
                             Map<String, String> env, Path out) throws IOException {
    Files.createDirectories(out.getParent());
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.add("-Dnann.cluster=" + marker);
    cmd.addAll(jvmArgs);
    cmd.add("-cp");
    cmd.add(classpath);
    cmd.add(mainClass);
    cmd.addAll(args);
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(out.toFile()))
        .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
    pb.environment().putAll(env);
    return pb.start();
  }

  /** The live process {@code pid} if it is one of ours (its command line names {@code marker}). */
  static Optional<ProcessHandle> find(long pid, String marker) {
    return ProcessHandle.of(pid).filter(ProcessHandle::isAlive)
        .filter(p -> p.info().commandLine().map(c -> c.contains("-Dnann.cluster=" + marker)).orElse(false));
  }

  /** SIGKILL ({@code kill -9}): no shutdown hook, no flush, as a crashed machine. Waits until it is gone. */
  static void kill(ProcessHandle p) {
    p.destroyForcibly();
    p.onExit().join();
  }

  /** SIGTERM, as an orderly {@code kill}; SIGKILL if it has not exited within {@code graceSeconds}. */
  static void stop(ProcessHandle p, int graceSeconds) {
    p.destroy();
    try {
      p.onExit().get(graceSeconds, java.util.concurrent.TimeUnit.SECONDS);
    } catch (Exception notYet) {
      kill(p);
    }
  }
}
