package dev.nann.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nann.jobs.ServingConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code ./nann request}'s Kafka client properties: from the job's file, a client file and the command line. */
class RequestCommandTest {
  @Test
  void kafkaPropertiesComeFromTheJobFileThenTheClientFileThenTheCommandLine(@TempDir Path dir) throws Exception {
    Path job = dir.resolve("serving.properties");
    Files.writeString(job, "kafka.bootstrap-servers=broker:9093\nmodel.dir=/m\nsnapshot.dir=/s\n"
        + "kafka.properties.security.protocol=SASL_SSL\nkafka.properties.sasl.mechanism=SCRAM-SHA-512\n"
        + "kafka.properties.ssl.truststore.location=/job/ca.p12\n");
    Path client = dir.resolve("client.properties");
    Files.writeString(client, "ssl.truststore.location=/client/ca.p12\nssl.truststore.password=pw\n");
    RequestCommand c = new RequestCommand();
    new CommandLine(c).parseArgs("--user", "1", "--config", job.toString(), "--kafka-config", client.toString(),
        "--kafka-property", "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required "
            + "username=\"u\" password=\"p=q\";",
        "--kafka-property", "ssl.truststore.password=cli-pw");
    Map<String, String> p = c.clientProperties(ServingConfig.load(job));
    assertEquals("SASL_SSL", p.get("security.protocol"));
    assertEquals("SCRAM-SHA-512", p.get("sasl.mechanism"));
    assertEquals("/client/ca.p12", p.get("ssl.truststore.location"), "the client file over the job file");
    assertEquals("cli-pw", p.get("ssl.truststore.password"), "the command line over the client file");
    assertEquals("org.apache.kafka.common.security.scram.ScramLoginModule required username=\"u\" password=\"p=q\";",
        p.get("sasl.jaas.config"), "split at the first '=' only");

    RequestCommand refused = new RequestCommand();
    new CommandLine(refused).parseArgs("--user", "1", "--kafka-property", "isolation.level=read_uncommitted");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> refused.clientProperties(null));
    assertTrue(e.getMessage().startsWith("Kafka property 'isolation.level' (given as '--kafka-property isolation.level') "
        + "is controlled by nann"), e.getMessage());
    Files.writeString(client, "value.deserializer=x\n");
    RequestCommand fromFile = new RequestCommand();
    new CommandLine(fromFile).parseArgs("--user", "1", "--kafka-config", client.toString());
    e = assertThrows(IllegalArgumentException.class, () -> fromFile.clientProperties(null));
    assertTrue(e.getMessage().contains("given as '" + client + ": value.deserializer'"), e.getMessage());
  }

  @Test
  void aTextUserIsHashedAndHashedItemsAreNamedFromTheTrainersFile(@TempDir Path dir) throws Exception {
    Path names = dir.resolve("id-names.tsv");
    long sku = dev.nann.client.NannIds.of("SKU 7\tblue");
    Files.writeString(names, "user\t" + dev.nann.client.NannIds.of("u-1") + "\tu-1\nitem\t" + sku + "\tSKU 7\tblue\n");
    assertEquals(Map.of(sku, "SKU 7\tblue"), RequestCommand.itemNames(names), "items only, text kept whole");
    RequestCommand c = new RequestCommand();
    new CommandLine(c).parseArgs("--user", "u-1", "--id-names", names.toString());
    assertEquals("u-1", c.user);
  }

  @Test
  void aBrokerThatDoesNotAnswerIsOneLineWithinTheTimeout() throws Exception {
    int port;
    try (java.net.ServerSocket free = new java.net.ServerSocket(0)) {
      port = free.getLocalPort();   // closed again: nothing listens there
    }
    java.io.ByteArrayOutputStream err = new java.io.ByteArrayOutputStream();
    java.io.PrintStream before = System.err;
    long t0 = System.nanoTime();
    int code;
    try {
      System.setErr(new java.io.PrintStream(err, true));
      code = Nann.commandLine().execute("request", "--user", "1", "--bootstrap", "127.0.0.1:" + port, "--timeout-s", "2");
    } finally {
      System.setErr(before);
    }
    assertEquals(1, code);
    assertTrue(err.toString().contains("nann: no Kafka broker answered at 127.0.0.1:" + port + " within 2 s"), err.toString());
    assertTrue(System.nanoTime() - t0 < 30_000_000_000L, "within the timeout asked for, not Kafka's minute");
  }

  @Test
  void aModeOrNumberTheJobWouldRefuseIsOneLineBeforeAnythingIsSent() {
    for (String[] bad : new String[][] {{"--mode", "hsnw"}, {"--k", "0"}, {"--timeout-s", "0"}, {"--budget", "-1"}}) {
      java.io.StringWriter err = new java.io.StringWriter();
      CommandLine cli = Nann.commandLine();
      cli.setErr(new java.io.PrintWriter(err));
      java.util.List<String> args = new java.util.ArrayList<>(java.util.List.of("request", "--user", "1",
          "--bootstrap", "127.0.0.1:1"));
      args.addAll(java.util.List.of(bad));
      assertEquals(2, cli.execute(args.toArray(String[]::new)), String.join(" ", bad) + ": " + err);
      assertTrue(err.toString().startsWith("nann: "), err.toString());
    }
  }
}
