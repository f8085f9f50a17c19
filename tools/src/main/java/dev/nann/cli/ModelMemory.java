package dev.nann.cli;

import dev.nann.cluster.JvmRun;
import dev.nann.scorer.ModelSpec;
import dev.nann.scorer.OnnxModel;
import dev.nann.scorer.OnnxScorer;
import dev.nann.scorer.OrtEnv;
import dev.nann.scorer.ScorerRuntime;
import dev.nann.scorer.ShapeGrid;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The native memory ONNX Runtime takes for one model on the CPU provider, which a TaskManager's
 * memory settings must leave room for (Flink does not see it): the model's sessions, and what one
 * call takes on top at two sizes, a walk step's and the largest (the fresh set, brute force, Deep
 * Retrieval's candidates, the warm-up at load). Measured in a child JVM with a small, pre-touched
 * heap and no JIT compiler, so that the process's resident memory moves only with ONNX Runtime's
 * allocations: the sessions as resident memory after the load against before it, a call as the peak
 * during the call (the kernel's high-water mark, reset before it) against before it; a call's size
 * is measured by its first call, as a scorer's warm-up makes them. Linux only.
 *
 * @param sessionsBytes resident after loading the model's sessions, over the process before
 * @param loadPeakBytes the peak while loading them, over the process before
 * @param stepCallBytes the peak during one call of {@link #STEP_ROWS} rows, over the process before it
 * @param largestCallBytes the peak during one call of {@code largestRows} rows, over the process before it
 */
public record ModelMemory(long sessionsBytes, long loadPeakBytes, long stepCallBytes, long largestCallBytes,
                          int largestRows) {
  /** A walk step's call: the default walk's steps score about this many rows. */
  public static final int STEP_ROWS = 256;
  private static final String PREFIX = "model-memory ";

  /** Measures {@code dir} in a child JVM (about as long as loading the model twice and a few calls). */
  public static ModelMemory measure(Path dir) throws IOException, InterruptedException {
    // the largest call's candidate rows live on the heap and in a direct buffer: room for them at any dim
    ModelSpec spec;
    try {
      spec = ModelSpec.read(dir);
    } catch (RuntimeException e) {
      throw new IOException("measuring the model's memory failed: " + e.getMessage(), e);
    }
    long batchMb = (long) ShapeGrid.defaults().max() * spec.itemDim() * Float.BYTES / 1_000_000 + 1;
    long filesMb = 0;   // each network is read onto the heap to be loaded from its checked bytes
    for (String f : spec.networkFiles()) {
      filesMb += Files.isRegularFile(dir.resolve(f)) ? Files.size(dir.resolve(f)) / 1_000_000 + 1 : 0;
    }
    String heap = (64 + 2 * batchMb + filesMb) + "m";
    List<String> cmd = new ArrayList<>(List.of("-Xms" + heap, "-Xmx" + heap, "-XX:MaxDirectMemorySize=" + (64 + 4 * batchMb)
        + "m", "-XX:+AlwaysPreTouch", "-Xint"));
    // where the runtime's libraries are copied to or loaded from, as this process has it
    System.getProperties().stringPropertyNames().stream()
        .filter(k -> k.equals("java.io.tmpdir") || k.startsWith("onnxruntime."))
        .forEach(k -> cmd.add("-D" + k + "=" + System.getProperty(k)));
    cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), ModelMemory.class.getName(),
        dir.toAbsolutePath().toString()));
    JvmRun run = JvmRun.of(cmd, Duration.ofMinutes(10));
    if (!run.ended()) {
      throw new IOException("measuring the model's memory did not finish in 10 minutes: " + lastLines(run.output()));
    }
    String out = run.output() + "\nexit " + run.exitCode();
    for (String line : out.split("\n")) {
      if (line.startsWith(PREFIX)) {
        String[] f = line.substring(PREFIX.length()).trim().split(" ");
        return new ModelMemory(Long.parseLong(f[0]), Long.parseLong(f[1]), Long.parseLong(f[2]), Long.parseLong(f[3]),
            Integer.parseInt(f[4]));
      }
    }
    throw new IOException("measuring the model's memory failed: " + lastLines(out));
  }

  /**
   * What a TaskManager must leave ONNX Runtime for this model, in one line each, for {@code walkers}
   * walker threads ({@code engine.walker-threads}; by default one per core).
   */
  public List<String> describe(int walkers) {
    return List.of(
        String.format(Locale.ROOT, "ONNX Runtime's native memory for this model (CPU): %s for its sessions (%s while "
            + "loading); a call of %d rows takes up to %s more, one of %,d rows %s", mb(sessionsBytes), mb(loadPeakBytes),
            STEP_ROWS, mb(stepCallBytes), largestRows, mb(largestCallBytes)),
        String.format(Locale.ROOT, "a serving TaskManager with %d walker threads needs up to %s for it outside Flink's "
            + "heap and managed memory (two models during a swap, every walker and the new model's warm-up in a call "
            + "of %,d rows at once): set "
            + "taskmanager.memory.task.off-heap.size to at least that (docs/operations.md, Memory of a serving TaskManager)",
            walkers, mb(taskOffHeapBytes(walkers)), largestRows));
  }

  /**
   * The task off-heap memory a serving TaskManager with {@code walkers} walker threads needs for this
   * model at most: two models' sessions (the old and the new during a swap, the new one at its loading
   * peak), and every walker and the new model's warm-up in a call of the largest size at once (the
   * walk's own steps are smaller, but the fresh set, brute force and Deep Retrieval's candidates are
   * scored in calls of up to the largest size).
   */
  public long taskOffHeapBytes(int walkers) {
    return sessionsBytes + Math.max(sessionsBytes, loadPeakBytes) + (walkers + 1L) * largestCallBytes;
  }

  private static String mb(long bytes) {
    return String.format(Locale.ROOT, "%,d MB", Math.max(0, bytes) / 1_000_000);
  }

  /** The child's first exception line when it has one (a stack's last frames say nothing), else its last lines. */
  private static String lastLines(String out) {
    String[] lines = out.strip().split("\n");
    for (String line : lines) {
      if (line.matches(".*(Exception|Error)\\b.*") && !line.strip().startsWith("at ")) {
        return line.strip();
      }
    }
    return String.join(" | ", java.util.Arrays.asList(lines).subList(Math.max(0, lines.length - 3), lines.length));
  }

  /**
   * The child: loads the model named by {@code args[0]} and prints what its sessions and calls took.
   * A scorer warms up every size of its grid at construction, the largest last, so its peak is its
   * largest call's: a scorer over sizes up to a step's, then one over every size.
   */
  public static void main(String[] args) throws IOException {
    OrtEnv.get();   // the runtime's library and environment, before the baseline
    long before = resetPeak();
    try (OnnxModel model = OnnxModel.load(Path.of(args[0]), ScorerRuntime.cpu(1))) {
      long loadPeak = peak() - before;
      long sessions = resident() - before;
      long beforeCalls = resetPeak();
      new OnnxScorer(model, ShapeGrid.unpadded(STEP_ROWS), false).close();
      long step = peak() - beforeCalls;
      resetPeak();
      ShapeGrid all = ShapeGrid.unpadded(ShapeGrid.defaults().max());
      new OnnxScorer(model, all, false).close();
      long largest = peak() - beforeCalls;   // what the step's calls left behind counts too
      System.out.println(PREFIX + sessions + " " + loadPeak + " " + step + " " + largest + " " + all.max());
    }
  }

  /** Resets the kernel's high-water mark of this process's resident memory; returns the resident memory now. */
  private static long resetPeak() throws IOException {
    Files.writeString(Path.of("/proc/self/clear_refs"), "5");
    return resident();
  }

  private static long resident() throws IOException {
    return status("VmRSS:");
  }

  private static long peak() throws IOException {
    return status("VmHWM:");
  }

  private static long status(String key) throws IOException {
    for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
      if (line.startsWith(key)) {
        return Long.parseLong(line.substring(key.length()).replaceAll("[^0-9]", "")) * 1024;
      }
    }
    throw new IOException("/proc/self/status has no " + key);
  }
}
