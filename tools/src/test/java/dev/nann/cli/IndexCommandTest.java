package dev.nann.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.nann.graph.SnapshotStore;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code nann index build} into one directory twice: a version names one file only, so the second
 * build takes the next free version, and a version already there is refused before any building.
 */
class IndexCommandTest {
  @TempDir
  Path tmp;

  private int build(String... more) {
    String[] base = {"index", "build", "--items", "300", "--dim", "8", "--threads", "1", "--out", tmp.toString()};
    String[] args = java.util.Arrays.copyOf(base, base.length + more.length);
    System.arraycopy(more, 0, args, base.length, more.length);
    return Nann.commandLine().execute(args);
  }

  @Test
  void buildsTheNextFreeVersionAndRefusesOneAlreadyThere() {
    assertEquals(0, build());
    assertEquals(0, build());
    assertArrayEquals(new long[] {2, 1}, SnapshotStore.versionsIn(tmp));
    assertEquals(2, build("--snapshot-version", "1"));
    assertEquals(0, build("--snapshot-version", "7"));
    assertArrayEquals(new long[] {7, 2, 1}, SnapshotStore.versionsIn(tmp));
  }
}
