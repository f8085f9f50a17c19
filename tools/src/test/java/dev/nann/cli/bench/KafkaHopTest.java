package dev.nann.cli.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nann.local.LatencyStats;
import dev.nann.local.LocalKafka;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class KafkaHopTest {
  @Test
  void everyProbeRecordComesBackOnceWithItsLatency(@TempDir Path dir) throws Exception {
    try (LocalKafka kafka = LocalKafka.start(dir)) {
      LatencyStats hop = KafkaHop.measure(kafka, 200, 100);
      assertEquals(100, hop.count(), "each record sent is read back exactly once");
      assertTrue(hop.quantile(0.5) > 0 && hop.quantile(0.99) >= hop.quantile(0.5),
          "p50 " + hop.quantile(0.5) + ", p99 " + hop.quantile(0.99));
    }
  }

  @Test
  void everyTcpEchoRoundTripIsTimed() throws Exception {
    LatencyStats rtt = KafkaHopBench.tcpEcho(500, 50);
    assertEquals(50, rtt.count(), "each reported round trip is counted once, the warm-up fifth left out");
    assertTrue(rtt.quantile(0.5) > 0, "p50 " + rtt.quantile(0.5));
  }
}
