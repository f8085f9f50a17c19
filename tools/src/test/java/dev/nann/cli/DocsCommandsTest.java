package dev.nann.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nann.jobs.DeclaredOption;
import dev.nann.jobs.ServingConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * Every {@code ./nann} command in the README and the docs' code blocks still parses: its subcommand
 * and options exist and its values convert, and each {@code --set KEY=VALUE} names a serving setting
 * with a valid value. Users copy these commands; a renamed option must not leave them stale. (The
 * trainer's commands, {@code ./nann trainer ...}, are checked by trainer/tests/test_docs_commands.py.)
 */
class DocsCommandsTest {
  private static final Path REPO = Path.of(System.getProperty("nann.repo", ".."));
  /** {@code ./nann} at the start of a line, after environment assignments such as {@code NANN_JAVA_OPTS=...}. */
  private static final Pattern COMMAND = Pattern.compile("^(?:[A-Z_]+=\\S+\\s+)*\\./nann\\s+(.*)$");
  /** An optional part as the docs write it, {@code [--a 1 | --b 2]}: its first alternative is checked. */
  private static final Pattern OPTIONAL = Pattern.compile("\\[([^\\]]*)\\]");

  @Test
  void everyDocumentedCommandParses() throws IOException {
    List<DocCommand> commands = documentedCommands();
    assertTrue(commands.size() > 50, "found only " + commands.size() + " commands: is the extraction broken?");
    assertTrue(commands.stream().anyMatch(c -> c.args().get(0).equals("demo") && c.where().startsWith("README.md")),
        "the README's quick start command");
    List<String> failures = new ArrayList<>();
    for (DocCommand c : commands) {
      if (c.args().get(0).equals("trainer")) {
        continue;
      }
      try {
        CommandLine.ParseResult parsed = Nann.commandLine().parseArgs(c.args().toArray(String[]::new));
        checkSettings(parsed);
      } catch (RuntimeException e) {
        failures.add(c.where() + ": ./nann " + String.join(" ", c.args()) + "\n    " + e.getMessage());
      }
    }
    assertEquals("", String.join("\n", failures), "documented commands that no longer parse");
  }

  @Test
  void theExtractionSeesThroughContinuationsCommentsAndPlaceholders() {
    List<List<String>> found = new ArrayList<>();
    List<String> block = List.of("./nann eval --corpus dir:x \\", "    --k 200 --ef-construction $efc   # a comment",
        "NANN_JAVA_OPTS=-Xmx512m ./nann bench fuzz | tail -1", "./nann index build --items 5 [--threads 2 | --m 8]",
        "echo ./nann not-this");
    extract(block, "x.md", 0, c -> found.add(c.args()));
    assertEquals(List.of(List.of("eval", "--corpus", "dir:x", "--k", "200"), List.of("bench", "fuzz"),
        List.of("index", "build", "--items", "5", "--threads", "2")), found);
  }

  @Test
  void aStaleOptionIsReported() {
    assertThrows(() -> Nann.commandLine().parseArgs("eval", "--no-such-option"));
    Map<String, String> bad = new HashMap<>(requiredSettings());
    bad.put("search.no-such-setting", "1");
    assertThrows(() -> ServingConfig.of(bad));
  }

  private static void assertThrows(Runnable r) {
    org.junit.jupiter.api.Assertions.assertThrows(RuntimeException.class, r::run);
  }

  /** Each {@code --set KEY=VALUE} of the command must be a serving setting it accepts. */
  private static void checkSettings(CommandLine.ParseResult parsed) {
    CommandLine.ParseResult leaf = parsed;
    while (leaf.hasSubcommand()) {
      leaf = leaf.subcommand();
    }
    if (!leaf.hasMatchedOption("--set")) {
      return;
    }
    Map<String, String> settings = new HashMap<>(requiredSettings());
    Map<String, String> given = leaf.matchedOption("--set").getValue();
    settings.putAll(given);
    ServingConfig.of(settings);
  }

  /** Placeholder values for the settings a file must give (the commands set them themselves). */
  private static Map<String, String> requiredSettings() {
    Map<String, String> m = new HashMap<>();
    for (DeclaredOption o : ServingConfig.OPTIONS) {
      if (o.required()) {
        m.put(o.key(), "/placeholder");
      }
    }
    return m;
  }

  record DocCommand(String where, List<String> args) {
  }

  private static List<DocCommand> documentedCommands() throws IOException {
    List<Path> pages = new ArrayList<>(List.of(REPO.resolve("README.md"), REPO.resolve("k8s/README.md")));
    try (Stream<Path> docs = Files.walk(REPO.resolve("docs"))) {
      docs.filter(p -> p.toString().endsWith(".md")).sorted().forEach(pages::add);
    }
    List<DocCommand> out = new ArrayList<>();
    for (Path page : pages) {
      List<String> lines = Files.readAllLines(page);
      boolean inBlock = false;
      List<String> block = new ArrayList<>();
      for (int i = 0; i < lines.size(); i++) {
        if (lines.get(i).strip().startsWith("```")) {
          if (inBlock) {
            extract(block, REPO.relativize(page).toString(), i - block.size(), out::add);
            block.clear();
          }
          inBlock = !inBlock;
        } else if (inBlock) {
          block.add(lines.get(i));
        }
      }
    }
    return out;
  }

  /** The {@code ./nann} commands of one code block starting at line {@code first} (0-based) of {@code page}. */
  static void extract(List<String> block, String page, int first, java.util.function.Consumer<DocCommand> out) {
    for (int i = 0; i < block.size(); i++) {
      int start = i;
      StringBuilder line = new StringBuilder(block.get(i).strip());
      while (line.toString().endsWith("\\") && i + 1 < block.size()) {
        line.setLength(line.length() - 1);
        line.append(' ').append(block.get(++i).strip());
      }
      Matcher m = COMMAND.matcher(line);
      if (m.matches()) {
        Matcher opt = OPTIONAL.matcher(m.group(1));
        String text = opt.replaceAll(r -> Matcher.quoteReplacement(r.group(1).split("\\s\\|\\s")[0].strip()));
        List<String> args = withoutPlaceholders(shellWords(text));
        if (!args.isEmpty()) {
          out.accept(new DocCommand(page + ":" + (first + start + 2), args));
        }
      }
    }
  }

  /**
   * The words of a shell command up to its end: an unquoted {@code #}, {@code |}, {@code ;}, {@code &&}
   * or redirection; quotes are removed as the shell removes them.
   */
  static List<String> shellWords(String s) {
    List<String> words = new ArrayList<>();
    StringBuilder w = null;
    char quote = 0;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (quote != 0) {
        if (c == quote) {
          quote = 0;
        } else {
          w.append(c);
        }
      } else if (c == '"' || c == '\'') {
        quote = c;
        w = w == null ? new StringBuilder() : w;
      } else if (Character.isWhitespace(c)) {
        if (w != null) {
          words.add(w.toString());
          w = null;
        }
      } else if ((c == '#' && w == null) || c == '|' || c == ';' || c == '>' || c == '<' || c == '&' || c == ')') {
        break;
      } else {
        w = w == null ? new StringBuilder() : w;
        w.append(c);
      }
    }
    if (w != null) {
      words.add(w.toString());
    }
    return words;
  }

  /** Drops an option whose value is a shell variable ({@code --m $M}): the docs leave it to the reader. */
  private static List<String> withoutPlaceholders(List<String> words) {
    List<String> kept = new ArrayList<>();
    for (String w : words) {
      if (w.contains("$")) {
        if (!kept.isEmpty() && kept.get(kept.size() - 1).startsWith("--")) {
          kept.remove(kept.size() - 1);
        }
      } else {
        kept.add(w);
      }
    }
    return kept;
  }
}
