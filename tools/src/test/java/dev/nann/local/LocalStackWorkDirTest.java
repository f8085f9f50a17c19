package dev.nann.local;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The stack empties its work directory before a run: never one it did not make (`--work-dir .`),
 * nor one another running stack holds.
 */
class LocalStackWorkDirTest {
  @TempDir
  Path tmp;

  /** A checkpoint directory under a path with a space is that directory to Flink, not one named with %20. */
  @Test
  void aDirectoryWithASpaceReachesFlinkAsItIs() {
    Path dir = tmp.resolve("my repo").resolve("checkpoints");
    org.apache.flink.core.fs.Path read = new org.apache.flink.core.fs.Path(LocalStack.flinkDir(dir));
    org.junit.jupiter.api.Assertions.assertEquals(dir.toAbsolutePath().toString(), read.toUri().getPath());
    org.junit.jupiter.api.Assertions.assertEquals("file", read.toUri().getScheme());
    Path odd = tmp.resolve("proj #2 50%?").resolve("checkpoints");
    org.junit.jupiter.api.Assertions.assertEquals(odd.toAbsolutePath().toString(),
        new org.apache.flink.core.fs.Path(LocalStack.flinkDir(odd)).toUri().getPath());
  }

  @Test
  void aDirectoryOfSomethingElseIsRefusedAndKept() throws Exception {
    Path mine = tmp.resolve("project");
    Files.createDirectories(mine.resolve("src"));
    Files.writeString(mine.resolve("README.md"), "my work");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> LocalStack.requireOwnWorkDir(mine));
    assertTrue(e.getMessage().contains("is not empty and holds no local nann stack"), e.getMessage());
    assertTrue(Files.exists(mine.resolve("README.md")));
    Path file = tmp.resolve("a-file");
    Files.writeString(file, "x");
    assertThrows(IllegalArgumentException.class, () -> LocalStack.requireOwnWorkDir(file));
  }

  @Test
  void newEmptyMarkedOrEarlierStacksAreFine() throws Exception {
    assertDoesNotThrow(() -> LocalStack.requireOwnWorkDir(tmp.resolve("new")));
    Path empty = Files.createDirectories(tmp.resolve("empty"));
    assertDoesNotThrow(() -> LocalStack.requireOwnWorkDir(empty));
    Path marked = Files.createDirectories(tmp.resolve("marked"));
    Files.writeString(marked.resolve(LocalStack.MARKER), "");
    Files.writeString(marked.resolve("bootstrap"), "127.0.0.1:1");
    assertDoesNotThrow(() -> LocalStack.requireOwnWorkDir(marked));
    Path earlier = Files.createDirectories(tmp.resolve("earlier"));   // as a stack left it before the marker
    Files.createDirectories(earlier.resolve("checkpoints"));
    Files.createDirectories(earlier.resolve("snapshots"));
    Files.writeString(earlier.resolve("bootstrap"), "127.0.0.1:1");
    assertDoesNotThrow(() -> LocalStack.requireOwnWorkDir(earlier));
    Files.writeString(earlier.resolve("notes.txt"), "mine");
    assertThrows(IllegalArgumentException.class, () -> LocalStack.requireOwnWorkDir(earlier));
    Path store = Files.createDirectories(tmp.resolve("store"));   // a real snapshot store: no broker address
    Files.createDirectories(store.resolve("snapshots"));
    assertThrows(IllegalArgumentException.class, () -> LocalStack.requireOwnWorkDir(store));
  }

  @Test
  void aDirectoryAnotherStackHoldsIsRefusedAndLeftAsItIs() throws Exception {
    Path work = Files.createDirectories(tmp.resolve("work"));
    Files.writeString(work.resolve(LocalStack.MARKER), "");
    Files.writeString(work.resolve("bootstrap"), "127.0.0.1:1");   // the running stack's broker
    // another process holds the lock, as a second `./nann demo` would find the first
    Path locker = tmp.resolve("Locker.java");
    Files.writeString(locker, "import java.nio.channels.FileChannel; import java.nio.file.*;\n"
        + "public class Locker { public static void main(String[] a) throws Exception {\n"
        + "  try (FileChannel c = FileChannel.open(Path.of(a[0]), StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {\n"
        + "    c.lock(); System.out.println(\"locked\"); System.out.flush(); System.in.read(); } } }\n");
    String javaCommand = ProcessHandle.current().info().command().orElse("java");
    Process other = new ProcessBuilder(javaCommand, locker.toString(), work.resolve(WorkDirLock.FILE).toString())
        .redirectError(ProcessBuilder.Redirect.INHERIT).start();
    try {
      String line = new java.io.BufferedReader(new java.io.InputStreamReader(other.getInputStream())).readLine();
      assertTrue("locked".equals(line), "the other process did not take the lock: " + line);
      IllegalStateException e = assertThrows(IllegalStateException.class, () -> LocalStack.start(work,
          tmp.resolve("no-model"), new long[0], new float[0], 16, java.util.Map.of(), null, System.err));
      assertTrue(e.getMessage().contains("is in use by another local nann stack"), e.getMessage());
      assertTrue(Files.exists(work.resolve("bootstrap")), "the running stack's files were deleted");
    } finally {
      other.destroy();
      other.waitFor();
    }
    // the lock goes with the process that held it; this JVM's own second stack is refused as well
    try (WorkDirLock mine = WorkDirLock.acquire(work)) {
      assertThrows(IllegalStateException.class, () -> WorkDirLock.acquire(work));
    }
    WorkDirLock.acquire(work).close();
  }
}
