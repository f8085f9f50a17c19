package dev.nann.scorer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Stale copies of ONNX Runtime's libraries go; a running process's, a fresh one and anything else stay. */
class OrtLibraryCopiesTest {
  @TempDir
  Path tmp;

  @Test
  void onlyOldUnmappedPrivateCopiesAreRemoved() throws Exception {
    Path stale = copy("onnxruntime-java111", "rwx------", 3600, true);
    Path staleEmpty = copy("onnxruntime-java112", "rwx------", 2 * 86400, false);
    Path young = copy("onnxruntime-java222", "rwx------", 0, true);
    Path emptyOfToday = copy("onnxruntime-java223", "rwx------", 3600, false);
    Path inUse = copy("onnxruntime-java333", "rwx------", 3600, true);
    Path shared = copy("onnxruntime-java444", "rwxr-xr-x", 3600, true);
    Path usersOwn = copy("onnxruntime-java-models", "rwx------", 3600, true);
    Path other = copy("something-else", "rwx------", 3600, true);
    MappedByteBuffer mapping;   // this process maps a file in inUse, as a running JVM maps its libraries
    try (FileChannel ch = FileChannel.open(inUse.resolve("libonnxruntime.so"))) {
      mapping = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size());
    }
    Path link = Files.createSymbolicLink(tmp.resolveSibling(tmp.getFileName() + "-link"), tmp);
    try {
      assertEquals(2, OrtLibraryCopies.sweep(link), "through a link to the directory, as java.io.tmpdir may be");
    } finally {
      Files.delete(link);
    }
    assertFalse(Files.exists(stale), "a copy no process uses, from an hour ago");
    assertFalse(Files.exists(staleEmpty), "an empty one from two days ago");
    for (Path kept : new Path[] {young, inUse, shared, usersOwn, other}) {
      assertTrue(Files.exists(kept.resolve("libonnxruntime.so")), kept + " must stay");
    }
    assertTrue(Files.isDirectory(emptyOfToday), "an empty one of today stays");
    assertEquals(0, mapping.get(0), "still mapped");
  }

  @Test
  void theRunningProcessKeepsItsOwnCopy() throws Exception {
    OrtEnv.get();   // loads the runtime from the copy the binding made for this process
    String lib = OrtLibraryCopies.mappedPaths().stream()
        .filter(p -> p.contains("/" + OrtLibraryCopies.PREFIX) && p.contains("libonnxruntime"))
        .findFirst().orElseThrow(() -> new AssertionError("this process maps no copy of the runtime's library"));
    Path own = Path.of(lib.replace(" (deleted)", "")).getParent();
    Instant later = Instant.now().plusSeconds(60);   // as if it were old: only its mapping keeps it
    assertFalse(OrtLibraryCopies.stale(own.getParent(), later, later, OrtLibraryCopies.mappedPaths()).contains(own),
        own + " belongs to this running process");
  }

  private Path copy(String name, String permissions, long ageSeconds, boolean withLibrary) throws Exception {
    Path dir = Files.createDirectory(tmp.resolve(name));
    if (withLibrary) {
      Files.write(dir.resolve("libonnxruntime.so"), new byte[4096]);
    }
    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString(permissions));
    Files.setLastModifiedTime(dir, FileTime.from(Instant.now().minusSeconds(ageSeconds)));
    return dir;
  }
}
