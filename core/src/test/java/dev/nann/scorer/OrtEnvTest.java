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
 * A JVM whose command line is long (a TaskManager's classpath and properties) loads a model on a
 * thread with the default 1 MB stack: ONNX Runtime's environment is created on a large stack
 * ({@link OrtEnv}), so its telemetry's regular expressions over the command line do not overflow the
 * loading thread's stack and kill the process with SIGSEGV.
 */
class OrtEnvTest {
  /** Run in a child JVM: loads the model named by the first argument on the main thread. */
  public static void main(String[] args) {
    try (OnnxModel m = OnnxModel.load(Path.of(args[0]))) {
      System.out.println("loaded on " + m.provider());
    }
  }

  @Test
  void aModelLoadsInAJvmWithALongCommandLine() throws Exception {
    String padding = "x".repeat(16 * 1024);   // 4 KB already overflowed a 1 MB stack before
    ProcessBuilder pb = new ProcessBuilder(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Xss1m", "-Dnann.test.padding=" + padding, "-cp", System.getProperty("java.class.path"),
        OrtEnvTest.class.getName(), TestData.model("attention", 16).toString()));
    pb.environment().remove("ORT_DISABLE_TELEMETRY");   // the path that overflowed must run
    pb.redirectErrorStream(true);
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(120, TimeUnit.SECONDS), "the child JVM did not finish");
    assertEquals(0, p.exitValue(), "the child JVM died (139 is SIGSEGV):\n" + out);
    assertTrue(out.contains("loaded on CPU"), out);
  }

  @Test
  void theStackGrowsWithTheCommandLineWithinBounds() {
    assertEquals(16L << 20, OrtEnv.stackBytes(0));
    assertEquals(64L << 20, OrtEnv.stackBytes(64 * 1024));
    assertEquals(2L << 30, OrtEnv.stackBytes(1L << 40));
    assertTrue(OrtEnv.commandLineBytes() > 0, "this process's command line is readable on Linux");
  }
}
