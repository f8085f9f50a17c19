package dev.nann.cli.bench;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.management.ManagementFactory;
import java.util.List;
import org.junit.jupiter.api.Test;

class ServingBenchTest {
  @Test
  void summaryNamesThisJvmsHeapOptionsAndNothingElse() {
    List<String> args = ManagementFactory.getRuntimeMXBean().getInputArguments();
    String options = ServingBench.heapOptions();
    for (String a : args) {
      boolean heap = ServingBench.isHeapOption(a);
      assertTrue(!heap || options.contains(a), a + " is a heap or collector option: " + options);
      assertFalse(!heap && !a.isBlank() && List.of(options.split(" ")).contains(a), a + " is not: " + options);
    }
    assertTrue(args.stream().noneMatch(a -> a.startsWith("-Xmx")) || options.contains("-Xmx"),
        "the test JVM's -Xmx (surefire's argLine) is reported: " + options);
  }
}
