package dev.nann.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.nann.TestData;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code ./nann demo --requests N}, the README's first command, end to end: a real broker, index-sync
 * and the serving job on a MiniCluster, the committed demo catalog and model. It warms up, then
 * counts exactly N answers to requests sent after the warm-up, every one answered.
 */
class DemoCommandTest {
  @TempDir
  Path work;

  @Test
  void warmsUpThenCountsTheRequestedAnswers() throws Exception {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    PrintStream stdout = System.out;
    int code;
    System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
    try {
      code = Nann.commandLine().execute("demo", "--requests", "40", "--warm-up", "2", "--show-every", "10",
          "--warm-events", "2000", "--demo-dir", TestData.repo().resolve("demo").toString(),
          "--work-dir", work.toString());
    } finally {
      System.setOut(stdout);
    }
    List<String> lines = out.toString(StandardCharsets.UTF_8).lines().toList();
    assertEquals(0, code, String.join("\n", lines));
    JsonNode summary = new ObjectMapper().readTree(lines.get(lines.size() - 1));
    assertEquals(40, summary.get("answered").asInt(), summary.toString());
    assertEquals(0, summary.get("errors").asInt(), summary.toString());
    assertEquals(0, summary.get("no_answer").asInt(), summary.toString());
    assertEquals("at-least-once", summary.get("delivery").asText());
    assertTrue(summary.get("warm_up_answers").asInt() > 0, "requests were sent during the 2 s warm-up: " + summary);
    double warmUp = summary.get("warm_up_s").asDouble();
    assertTrue(warmUp >= 2 && warmUp < 10, "the warm-up ends at its limit or when the JIT settles: " + summary);
    assertTrue(summary.get("p99_ms").asDouble() >= summary.get("p50_ms").asDouble(), summary.toString());
    // every 10th answer is shown, counted or not, with the job's and the client's wait and the titles
    List<String> shown = lines.stream().filter(l -> l.startsWith("user ")).toList();
    assertTrue(shown.size() >= 4, String.join("\n", lines));
    assertTrue(shown.get(0).matches("user \\d+ +(OK|COLD_START) +[0-9.]+ ms \\(client +[0-9.]+\\) +scored +\\d+ .*"),
        shown.get(0));
  }

  @Test
  void aRateThatWouldOnlySendIsRefusedBeforeAnythingStarts() {
    for (String rate : new String[] {"0", "-5", "1e12", "NaN"}) {
      java.io.StringWriter err = new java.io.StringWriter();
      picocli.CommandLine cmd = Nann.commandLine();
      cmd.setErr(new java.io.PrintWriter(err));
      int code = cmd.execute("demo", "--rate", rate, "--work-dir", work.toString());
      assertEquals(2, code, err.toString());
      assertTrue(err.toString().contains("--rate " + Double.parseDouble(rate) + ": give requests per second in (0, "),
          err.toString());
    }
  }
}
