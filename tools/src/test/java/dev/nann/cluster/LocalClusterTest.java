package dev.nann.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What a cluster start refuses before it starts (or deletes) anything. */
class LocalClusterTest {
  @TempDir
  Path dir;

  private static final Path REPO = Path.of(System.getProperty("nann.repo", "..")).toAbsolutePath().normalize();

  @Test
  void refusesADirectoryThatHoldsSomethingElse() throws Exception {
    Path precious = Files.writeString(dir.resolve("notes.txt"), "keep me");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> LocalCluster.start(new ClusterHome(dir),
        REPO.resolve("flink-cluster/target/lib"), System.getProperty("java.class.path"),
        LocalCluster.Settings.defaults(), new PrintStream(new ByteArrayOutputStream())));
    assertTrue(e.getMessage().contains("holds no nann cluster"), e.getMessage());
    assertEquals("keep me", Files.readString(precious));
  }

  @Test
  void namesTheBuildStepWhenFlinksJarsAreMissing() {
    IllegalStateException e = assertThrows(IllegalStateException.class, () -> LocalCluster.start(
        new ClusterHome(dir.resolve("new")), dir.resolve("no-lib"), "", LocalCluster.Settings.defaults(),
        new PrintStream(new ByteArrayOutputStream())));
    assertTrue(e.getMessage().contains("mvn -q -DskipTests package -pl flink-cluster"), e.getMessage());
  }

  @Test
  void attachingWhereNoClusterWasStartedSaysSo() {
    IllegalStateException e = assertThrows(IllegalStateException.class, () -> LocalCluster.attach(new ClusterHome(dir)));
    assertTrue(e.getMessage().contains("./nann cluster start"), e.getMessage());
  }
}
