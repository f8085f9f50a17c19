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

  /** The cluster's config.yaml: a value holding " #" is quoted, or YAML would cut it at the comment. */
  @Test
  void configValuesThatYamlWouldCutAreQuoted() {
    assertEquals("'file:///proj #2/chk'", LocalCluster.yamlValue("file:///proj #2/chk"));
    assertEquals("'it''s: here'", LocalCluster.yamlValue("it's: here"));
    assertEquals("60 s", LocalCluster.yamlValue("60 s"));
  }

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
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> LocalCluster.start(
        new ClusterHome(dir.resolve("new")), dir.resolve("no-lib"), "", LocalCluster.Settings.defaults(),
        new PrintStream(new ByteArrayOutputStream())));
    assertTrue(e.getMessage().contains("mvn -q -DskipTests package -pl flink-cluster"), e.getMessage());
  }

  /**
   * A cluster whose JobManager died but whose TaskManager lives on: a new start stops what is left
   * before it empties the directory (with the pid files in it, nothing could stop it afterwards).
   */
  @Test
  void startStopsWhatIsLeftOfAClusterWhoseJobManagerDied() throws Exception {
    ClusterHome home = new ClusterHome(dir.resolve("cluster"));
    home.create();
    Files.writeString(home.state(), "taskmanagers.started=1\n");
    // a stand-in TaskManager: a process carrying the cluster's marker on its command line (a builtin read,
    // so no child of it outlives it)
    Process leftOver = new ProcessBuilder("bash", "-c", "read -r -t 600 line; true", "-Dnann.cluster=" + home.dir()).start();
    try {
      Files.writeString(home.pids().resolve("taskmanager-1.pid"), Long.toString(leftOver.pid()));
      assertTrue(LocalCluster.attach(home).process("taskmanager-1").isPresent(), "the stand-in is found as the cluster's");
      ByteArrayOutputStream log = new ByteArrayOutputStream();
      assertThrows(IllegalArgumentException.class, () -> LocalCluster.start(home, dir.resolve("no-lib"), "",
          LocalCluster.Settings.defaults(), new PrintStream(log, true)));
      assertTrue(leftOver.waitFor(30, java.util.concurrent.TimeUnit.SECONDS), "the left-over TaskManager was stopped");
      assertTrue(log.toString().contains("stopping what is left of the cluster"), log.toString());
    } finally {
      leftOver.destroyForcibly();
    }
  }

  @Test
  void attachingWhereNoClusterWasStartedSaysSo() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> LocalCluster.attach(new ClusterHome(dir)));
    assertTrue(e.getMessage().contains("./nann cluster start"), e.getMessage());
  }
}
