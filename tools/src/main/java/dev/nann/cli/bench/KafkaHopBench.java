package dev.nann.cli.bench;

import static dev.nann.cli.JsonLines.round;

import dev.nann.cli.JsonLines;
import dev.nann.cli.MachineInfo;
import dev.nann.local.LatencyStats;
import dev.nann.local.LocalKafka;
import dev.nann.local.LocalStack;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code ./nann bench kafka-hop}: one Kafka hop (producer, embedded broker, read_committed consumer)
 * at several message rates, each beside a bare TCP round trip on the loopback at the same rate.
 *
 * <p>Why by rate: on the virtual machines measured, the same path cost more the rarer its messages
 * (most likely a thread that waits longer wakes into cold caches; keeping the virtual CPUs from
 * halting did not change it). The TCP round trip is the machine's own share of that; what Kafka adds
 * on top is its request path. The serving bench's stages read against these figures: the two hops of
 * a request at 100 requests/s cost what a hop costs at that rate here, not what it costs under a load
 * test at 1,000.
 */
@Command(name = "kafka-hop", mixinStandardHelpOptions = true,
    description = "One Kafka hop (producer, embedded broker, consumer) and a bare loopback TCP round trip, "
        + "by message rate: what a message costs on this machine when messages are rare or frequent.")
public final class KafkaHopBench implements Callable<Integer> {
  @Option(names = "--rates", split = ",", description = "messages/s, comma-separated (default: 20,100,1000)")
  List<Double> rates = List.of(20.0, 100.0, 1000.0);

  @Option(names = "--seconds", description = "seconds measured per rate (default: ${DEFAULT-VALUE})")
  double seconds = 10;

  @Option(names = "--json", description = "append the JSON lines to this file")
  Path json;

  @Override
  public Integer call() throws Exception {
    if (rates.isEmpty() || rates.stream().anyMatch(r -> r <= 0 || r > 100_000)) {
      throw new IllegalArgumentException("--rates needs rates in (0, 100000] messages/s, got " + rates);
    }
    if (seconds <= 0) {
      throw new IllegalArgumentException("--seconds must be > 0, got " + seconds);
    }
    Path dir = Files.createTempDirectory("nann-kafka-hop");
    List<String> lines = new ArrayList<>();
    MachineInfo machine = MachineInfo.current();
    System.err.println("[bench] machine: " + machine.describe());
    System.err.printf(Locale.ROOT, "[bench] %-10s %16s %16s %18s%n", "rate /s", "kafka p50 ms", "kafka p99 ms",
        "tcp echo p50 us");
    try (LocalKafka kafka = LocalKafka.start(dir)) {
      for (double rate : rates) {
        int count = (int) Math.max(20, Math.ceil(rate * seconds));
        LatencyStats tcp = tcpEcho(rate, count);
        LatencyStats hop = KafkaHop.measure(kafka, rate, count);
        System.err.printf(Locale.ROOT, "[bench] %-10.0f %16.3f %16.3f %18.1f%n", rate, hop.quantile(0.5),
            hop.quantile(0.99), 1000 * tcp.quantile(0.5));
        String line = JsonLines.line(JsonLines.object().put("bench", "kafka-hop").put("rate", round(rate, 1))
            .put("messages", hop.count()).put("kafka_p50_ms", round(hop.quantile(0.5), 3))
            .put("kafka_p99_ms", round(hop.quantile(0.99), 3)).put("tcp_echo_p50_us", round(1000 * tcp.quantile(0.5), 1))
            .put("tcp_echo_p99_us", round(1000 * tcp.quantile(0.99), 1)).putPOJO("machine", machine.toJson()));
        System.out.println(line);
        lines.add(line);
      }
    } finally {
      try {
        LocalStack.deleteTree(dir);
      } catch (java.io.IOException ignored) {
        // a temporary directory: the OS cleans up what is left
      }
    }
    if (json != null) {
      JsonLines.append(json, lines);
    }
    return 0;
  }

  /** Round trips of 8 bytes to an echo thread over loopback TCP (no Nagle) at {@code rate}/s, after a fifth as many unreported. */
  static LatencyStats tcpEcho(double rate, int count) throws Exception {
    LatencyStats rtt = new LatencyStats();
    try (ServerSocket server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      Thread echo = new Thread(() -> {
        try (Socket s = server.accept()) {
          s.setTcpNoDelay(true);
          DataInputStream in = new DataInputStream(s.getInputStream());
          DataOutputStream out = new DataOutputStream(s.getOutputStream());
          while (true) {
            out.writeLong(in.readLong());
            out.flush();
          }
        } catch (java.io.IOException closed) {
          // the client hung up: done
        }
      }, "bench-tcp-echo");
      echo.setDaemon(true);
      echo.start();
      try (Socket c = new Socket(InetAddress.getLoopbackAddress(), server.getLocalPort())) {
        c.setTcpNoDelay(true);
        DataInputStream in = new DataInputStream(c.getInputStream());
        DataOutputStream out = new DataOutputStream(c.getOutputStream());
        int warm = count / 5;
        long interval = (long) (1e9 / rate);
        long start = System.nanoTime();
        for (int i = 0; i < warm + count; i++) {
          Pacing.parkUntil(start + i * interval);
          long t = System.nanoTime();
          out.writeLong(t);
          out.flush();
          if (in.readLong() != t) {
            throw new IllegalStateException("the echo answered another value");
          }
          if (i >= warm) {
            rtt.add((System.nanoTime() - t) / 1e6f);
          }
        }
      }
    }
    return rtt;
  }
}
