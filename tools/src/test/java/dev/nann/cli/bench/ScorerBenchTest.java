package dev.nann.cli.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class ScorerBenchTest {
  @Test
  void timesEverySizeForBothOutputsAndFitsTheCallCost() {
    String out = run("--model", System.getProperty("nann.repo", ".") + "/models/fixtures/attention-d16",
        "--rows", "1,64", "--rounds", "1", "--seconds", "0.05", "--compare-output");
    List<String> lines = Arrays.asList(out.split("\n"));
    for (String output : new String[] {"pinned", "allocated"}) {
      for (int rows : new int[] {1, 64}) {
        assertEquals(1, lines.stream().filter(l -> l.startsWith("{\"bench\":\"scorer\",\"output\":\"" + output
            + "\",\"threads\":1,\"rows\":" + rows + ",")).count(), output + " at " + rows + " rows: " + out);
      }
      assertTrue(lines.stream().anyMatch(l -> l.startsWith("{\"bench\":\"scorer-fit\",\"output\":\"" + output + "\"")
          && l.contains("\"machine\":{\"cpu\":")), "the fit names its machine: " + out);
    }
    assertEquals(2, lines.stream().filter(l -> l.contains("allocated_over_pinned")).count(), out);
  }

  @Test
  void threadsCallSideBySideAndEachReportsItsOwnCost() {
    String out = run("--model", System.getProperty("nann.repo", ".") + "/models/fixtures/attention-d16",
        "--rows", "1,64", "--rounds", "1", "--seconds", "0.05", "--threads", "2");
    List<String> lines = Arrays.asList(out.split("\n"));
    for (int rows : new int[] {1, 64}) {
      String line = lines.stream().filter(l -> l.startsWith("{\"bench\":\"scorer\",\"output\":\"pinned\",\"threads\":2,"
          + "\"rows\":" + rows + ",")).findFirst().orElseThrow(() -> new AssertionError(out));
      double callUs = Double.parseDouble(line.replaceAll(".*\"call_us\":([0-9.]+).*", "$1"));
      assertTrue(callUs > 0 && Double.isFinite(callUs), "each size is reported as one call's cost: " + line);
    }
    CommandLine cmd = new CommandLine(new ScorerBench());
    cmd.setErr(new java.io.PrintWriter(new java.io.StringWriter()));
    assertTrue(cmd.execute("--threads", "0", "--rounds", "1", "--seconds", "0.01") != 0, "no threads, no timing");
  }

  @Test
  void batchingTimesTheThreadsCallsMergedAgainstSeparate() {
    String out = run("--model", System.getProperty("nann.repo", ".") + "/models/fixtures/dnn-d16",
        "--rows", "8,64", "--rounds", "1", "--seconds", "0.1", "--threads", "2", "--batching");
    List<String> lines = Arrays.asList(out.split("\n"));
    for (int rows : new int[] {8, 64}) {
      assertEquals(1, lines.stream().filter(l -> l.startsWith("{\"bench\":\"scorer\",\"output\":\"merged\",\"threads\":2,"
          + "\"rows\":" + rows + ",")).count(), "merged calls timed at " + rows + " rows: " + out);
      String ratio = lines.stream().filter(l -> l.startsWith("{\"bench\":\"scorer-batching\",\"threads\":2,\"rows\":" + rows
          + ",")).findFirst().orElseThrow(() -> new AssertionError(out));
      double merged = Double.parseDouble(ratio.replaceAll(".*\"merged_call_time_over_separate\":([0-9.]+).*", "$1"));
      double batches = Double.parseDouble(ratio.replaceAll(".*\"batches_per_call\":([0-9.]+).*", "$1"));
      assertTrue(merged > 0 && Double.isFinite(merged), ratio);
      assertTrue(batches >= 1, "every merged call holds at least one thread's batch: " + ratio);
    }
    CommandLine cmd = new CommandLine(new ScorerBench());
    cmd.setErr(new java.io.PrintWriter(new java.io.StringWriter()));
    assertTrue(cmd.execute("--batching", "--rounds", "1", "--seconds", "0.01") != 0, "one thread has nothing to merge");
  }

  @Test
  void mixedSizesAreTimedAgainstTheFitAtTheirMeanSize() {
    String out = run("--model", System.getProperty("nann.repo", ".") + "/models/fixtures/attention-d16",
        "--rows", "8,64", "--rounds", "2", "--seconds", "0.1", "--mixed");
    String line = Arrays.stream(out.split("\n")).filter(l -> l.startsWith("{\"bench\":\"scorer-mixed\",\"threads\":1,"
        + "\"rows_min\":8,\"rows_max\":64,")).findFirst().orElseThrow(() -> new AssertionError(out));
    double rowsPerCall = Double.parseDouble(line.replaceAll(".*\"rows_per_call\":([0-9.]+).*", "$1"));
    double callUs = Double.parseDouble(line.replaceAll(".*\"call_us\":([0-9.]+).*", "$1"));
    double overFit = Double.parseDouble(line.replaceAll(".*\"over_fit\":([0-9.]+).*", "$1"));
    // sizes drawn uniformly from 8 to 64 rows average about 36 over a tenth of a second of calls
    assertTrue(rowsPerCall > 30 && rowsPerCall < 42, line);
    assertTrue(callUs > 0 && overFit > 0 && Double.isFinite(overFit), line);
  }

  @Test
  void aSizeAboveTheLargestCallIsRefused() {
    CommandLine cmd = new CommandLine(new ScorerBench());
    cmd.setErr(new java.io.PrintWriter(new java.io.StringWriter()));
    int code = cmd.execute("--model", System.getProperty("nann.repo", ".") + "/models/fixtures/attention-d16",
        "--rows", "1,100000", "--rounds", "1", "--seconds", "0.01");
    assertTrue(code != 0, "100,000 rows exceed any call the scorer makes");
  }

  private static String run(String... args) {
    PrintStream saved = System.out;
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
    try {
      assertEquals(0, new CommandLine(new ScorerBench()).execute(args));
    } finally {
      System.setOut(saved);
    }
    return buf.toString(StandardCharsets.UTF_8);
  }
}
