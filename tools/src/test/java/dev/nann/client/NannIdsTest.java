package dev.nann.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The client maps text ids to 64-bit ids exactly as the trainer does when it reads a log. */
class NannIdsTest {
  /** Integers at and past the 64-bit edges, signs and zeros, text, non-ASCII digits and letters. */
  private static final List<String> IDS = List.of("0", "-0", "+7", "007", "242", "9223372036854775807",
      "9223372036854775808", "-9223372036854775808", "-9223372036854775809", "18446744073709551615",
      "u-196", "B000123XYZ", "3f1c9a4e-5b7d-4c2a-9e1f-0a2b3c4d5e6f", "1e5", "0x10", "12 3", " 5", "+",
      "-", "\u0661\u0662", "\uff11", "Café", "日本の本", "\uD83D\uDE00");

  @Test
  void agreesWithTheTrainerOnEveryKindOfId() throws Exception {
    List<Long> trainer = trainerIds(IDS);
    for (int i = 0; i < IDS.size(); i++) {
      assertEquals(trainer.get(i), NannIds.of(IDS.get(i)), "id '" + IDS.get(i) + "'");
    }
  }

  @Test
  void integersAreKeptAndTextIsHashed() {
    assertEquals(242L, NannIds.of("242"));
    assertEquals(Long.MIN_VALUE, NannIds.of("-9223372036854775808"));
    assertEquals(7L, NannIds.of("+7"));
    // Long.parseLong would read Arabic-Indic digits as 12; the trainer's ASCII rule hashes them
    assertNotEquals(12L, NannIds.of("\u0661\u0662"));
    assertNotEquals(NannIds.of("u-196"), NannIds.of("u-197"));
    assertThrows(IllegalArgumentException.class, () -> NannIds.of(""));
  }

  private static List<Long> trainerIds(List<String> ids) throws IOException, InterruptedException {
    Path repo = Path.of(System.getProperty("nann.repo", "..")).toAbsolutePath().normalize();
    ProcessBuilder pb = new ProcessBuilder("/usr/bin/python3", "-c",
        "import json, sys\nfrom nann_trainer.ids import parse_id\n"
            + "for t in json.load(sys.stdin): print(parse_id(t))");
    pb.environment().put("PYTHONPATH", repo.resolve("trainer").toString());
    pb.redirectErrorStream(true);
    Process p = pb.start();
    StringBuilder json = new StringBuilder("[");
    for (String id : ids) {
      json.append(json.length() > 1 ? "," : "").append('"');
      for (char c : id.toCharArray()) {
        json.append(String.format("\\u%04x", (int) c));
      }
      json.append('"');
    }
    p.getOutputStream().write(json.append(']').toString().getBytes(StandardCharsets.UTF_8));
    p.getOutputStream().close();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
      throw new IllegalStateException("the trainer's parse_id failed: " + out);
    }
    List<Long> parsed = new ArrayList<>();
    for (String line : out.strip().split("\n")) {
      parsed.add(Long.parseLong(line.strip()));
    }
    assertEquals(ids.size(), parsed.size(), out);
    return parsed;
  }
}
