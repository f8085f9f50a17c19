package dev.nann.local;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The stack empties its work directory before a run: never one it did not make (`--work-dir .`). */
class LocalStackWorkDirTest {
  @TempDir
  Path tmp;

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
}
