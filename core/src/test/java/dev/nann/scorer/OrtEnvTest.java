package dev.nann.scorer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nann.TestData;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Loading ONNX Runtime in child JVMs ({@link OrtEnv}): one whose command line is long (a
 * TaskManager's classpath and properties) loads a model on a thread with the default 1 MB stack, as
 * the environment is created on a large stack where its telemetry's regular expressions over the
 * command line do not overflow and kill the process with SIGSEGV; one where the runtime cannot load
 * says why, on every attempt.
 */
class OrtEnvTest {
  /** Run in a child JVM: loads the model named by the first argument on the main thread (twice, if asked). */
  public static void main(String[] args) {
    for (int i = 0; i < args.length; i++) {
      try (OnnxModel m = OnnxModel.load(Path.of(args[0]))) {
        System.out.println("loaded on " + m.provider());
      } catch (ScorerException e) {
        System.out.println("refused: " + e.getMessage());
      }
    }
  }

  @Test
  void aModelLoadsInAJvmWithALongCommandLine() throws Exception {
    String padding = "x".repeat(16 * 1024);   // 4 KB already overflowed a 1 MB stack before
    String out = child(List.of("-Xss1m", "-Dnann.test.padding=" + padding), TestData.model("attention", 16).toString());
    assertTrue(out.contains("loaded on CPU"), out);
  }

  @Test
  void aRuntimeThatCannotLoadSaysWhyEveryTime() throws Exception {
    String out = child(List.of("-Djava.io.tmpdir=/nonexistent-nann-tmp"), TestData.model("attention", 16).toString(),
        "again");
    // the binding's classes fail their static initialiser once; the second load must not see a bare
    // NoClassDefFoundError but the same reason
    long refusals = out.lines().filter(l -> l.startsWith("refused: ONNX Runtime cannot be loaded in this process: "
        + "java.nio.file.NoSuchFileException: /nonexistent-nann-tmp/onnxruntime-java")
        && l.contains("java.io.tmpdir (/nonexistent-nann-tmp), which must exist and be writable")).count();
    assertEquals(2, refusals, out);
  }

  private static String child(List<String> jvmArgs, String... args) throws Exception {
    List<String> cmd = new java.util.ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java")
        .toString()));
    cmd.addAll(jvmArgs);
    cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), OrtEnvTest.class.getName()));
    cmd.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
    pb.environment().remove("ORT_DISABLE_TELEMETRY");   // the path that overflowed must run
    Path log = java.nio.file.Files.createTempFile("nann-ort-child", ".log");
    try {
      Process p = pb.redirectOutput(log.toFile()).start();
      boolean ended = p.waitFor(120, TimeUnit.SECONDS);
      p.destroyForcibly();
      String out = java.nio.file.Files.readString(log, StandardCharsets.UTF_8);
      assertTrue(ended, "the child JVM did not finish:\n" + out);
      assertEquals(0, p.exitValue(), "the child JVM died (139 is SIGSEGV):\n" + out);
      return out;
    } finally {
      java.nio.file.Files.deleteIfExists(log);
    }
  }

  @Test
  void theStackGrowsWithTheCommandLineWithinBounds() {
    assertEquals(16L << 20, OrtEnv.stackBytes(0));
    assertEquals(64L << 20, OrtEnv.stackBytes(64 * 1024));
    assertEquals(2L << 30, OrtEnv.stackBytes(1L << 40));
    assertTrue(OrtEnv.commandLineBytes() > 0, "this process's command line is readable on Linux");
  }
}
