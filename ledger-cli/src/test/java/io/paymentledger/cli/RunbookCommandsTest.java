package io.paymentledger.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.paymentledger.cli.chaos.FaultClass;
import io.paymentledger.cli.drill.Drills;
import io.paymentledger.cli.support.Docs;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * Every {@code ./ledger …} command the operator's documents quote (README.md, runbooks/*.md, terraform/README.md) is
 * one the CLI accepts: its subcommands and options exist, required options are there, values convert, and drill
 * scenarios and fault classes are ones the CLI knows. Parsed with the real picocli command tree; nothing runs.
 */
class RunbookCommandsTest {

    /** A command as quoted: where, and its words after {@code ./ledger} (placeholders already replaced). */
    record Quoted(String where, String text, List<String> args) {}

    private static final Pattern CODE_SPAN = Pattern.compile("`([^`]+)`");
    /** Placeholders an operator fills in: {@code <id>}, {@code <the other region>}, {@code N}, {@code S}, {@code FILE}. */
    private static final Pattern PLACEHOLDER = Pattern.compile("<[^>]*>|N|S|FILE");
    private static final String PLACEHOLDER_VALUE = "1";

    @Test
    void everyQuotedLedgerCommandParsesWithTheRealCommandTree() throws IOException {
        List<Quoted> commands = quotedCommands();
        assertThat(commands).as("commands found in the documents").hasSizeGreaterThan(50);
        List<String> wrong = new ArrayList<>();
        for (Quoted q : commands) {
            String problem = problem(q.args());
            if (problem != null) {
                wrong.add(q.where() + ": `" + q.text() + "`: " + problem);
            }
        }
        assertThat(wrong).as("documented commands the CLI refuses").isEmpty();
    }

    /**
     * {@code ./ledger status}'s exit codes are documented once, in its {@code --help}; the README's table is the same
     * text, code by code.
     */
    @Test
    void theReadmesStatusExitCodesAreThoseOfStatusHelp() throws IOException {
        java.util.Map<String, String> help = new CommandLine(new Main()).getSubcommands().get("status").getCommandSpec()
                .usageMessage().exitCodeList();
        String readme = Files.readString(Docs.repositoryRoot().resolve("README.md"));
        String section = readme.substring(readme.indexOf("### `./ledger status`"));
        section = section.substring(0, section.indexOf("\n### ", 1));
        java.util.Map<String, String> documented = new java.util.LinkedHashMap<>();
        Matcher row = Pattern.compile("^\\| (\\d+) \\| (.+) \\|$", Pattern.MULTILINE).matcher(section);
        while (row.find()) {
            documented.put(row.group(1), row.group(2));
        }
        assertThat(help).as("status --help's exit codes").hasSize(6);
        assertThat(documented).as("the README's table of status exit codes").containsExactlyEntriesOf(help);
    }

    /** The checker itself: what it must refuse, so a green run means something. */
    @Test
    void theCheckerRefusesWhatTheCliRefuses() {
        assertThat(problem(List.of("node", "--region", "a", "--sync-loss", "DEGRADE"))).isNull();
        assertThat(problem(List.of("node", "--sync-loss", "DEGRADE"))).as("the tree is reused: nothing carries over")
                .contains("--region");
        assertThat(problem(List.of("verify", "--regoin", "a"))).contains("--regoin");
        assertThat(problem(List.of("drill", "kill_the_moon"))).contains("kill_the_moon");
        assertThat(problem(List.of("chaos", "run", "--faults", "pause_leader_nod"))).contains("pause_leader_nod");
        assertThat(problem(List.of("chaos", "clock"))).as("a reference to a command family is fine").isNull();
        assertThat(problem(List.of("status", "--count", "x"))).contains("--count");
        assertThat(problem(List.of("switchover", "--to", "b"))).isNull();
        assertThat(args("./ledger drill <scenario>\\|all [--runs N] [--direct]"))
                .containsExactly(List.of("drill", PLACEHOLDER_VALUE, "--runs", PLACEHOLDER_VALUE, "--direct"),
                        List.of("drill", "all", "--runs", PLACEHOLDER_VALUE, "--direct"));
    }

    /**
     * The real command tree, built once (about 0.1 s each on a loaded machine, and there are 150 commands);
     * picocli resets every option to its initial value before each parse.
     */
    private static final CommandLine CLI = new CommandLine(new Main());

    /** Null when the CLI accepts the words, else why not. */
    static String problem(List<String> args) {
        CommandLine cli = CLI;
        boolean reference = args.stream().noneMatch(a -> a.startsWith("-")) && isCommandPath(cli, args);
        if (reference) {
            return null; // "./ledger chaos clock": names a command, does not run it
        }
        CommandLine.ParseResult parsed;
        try {
            parsed = cli.parseArgs(args.toArray(String[]::new));
        } catch (CommandLine.ParameterException e) {
            return e.getMessage();
        }
        CommandLine.ParseResult leaf = parsed;
        while (leaf.hasSubcommand()) {
            leaf = leaf.subcommand();
        }
        String name = leaf.commandSpec().qualifiedName(" ");
        if (name.equals("ledger drill") && leaf.hasMatchedPositional(0)) {
            String scenario = leaf.matchedPositional(0).getValue();
            if (!scenario.equals(PLACEHOLDER_VALUE) && !scenario.equalsIgnoreCase("all")) {
                try {
                    Drills.Scenario.valueOf(scenario.toUpperCase(Locale.ROOT).replace('-', '_'));
                } catch (IllegalArgumentException e) {
                    return "no drill scenario '" + scenario + "'";
                }
            }
        }
        if (name.equals("ledger chaos run") && leaf.hasMatchedOption("--faults")) {
            String faults = leaf.matchedOption("--faults").getValue();
            if (!faults.equals(PLACEHOLDER_VALUE)) {
                try {
                    FaultClass.parse(faults);
                } catch (IllegalArgumentException e) {
                    return e.getMessage();
                }
            }
        }
        return null;
    }

    private static boolean isCommandPath(CommandLine cli, List<String> args) {
        CommandLine at = cli;
        for (String a : args) {
            at = at.getSubcommands().get(a);
            if (at == null) {
                return false;
            }
        }
        return true;
    }

    /** Every quoted command: inline code spans starting with {@code ./ledger} or {@code ledger <command>}, and command lines in code blocks. */
    static List<Quoted> quotedCommands() throws IOException {
        Path root = Docs.repositoryRoot();
        List<Path> docs = Docs.operatorDocs(true);
        List<Quoted> found = new ArrayList<>();
        for (Path doc : docs) {
            List<String> lines = Files.readAllLines(doc);
            boolean inBlock = false;
            boolean shellBlock = false;
            for (int i = 0; i < lines.size(); i++) {
                String line = lines.get(i);
                String where = root.relativize(doc) + ":" + (i + 1);
                if (line.trim().startsWith("```")) {
                    inBlock = !inBlock;
                    shellBlock = inBlock && line.trim().equals("```bash");
                    continue;
                }
                if (inBlock) {
                    String code = stripComment(line);
                    for (String segment : code.split("&&|\\|\\||;|(?<!\\\\)\\|")) {
                        // "> report.json", "2>&1": the shell's redirections, not the CLI's words
                        String s = withoutEnvironment(segment.trim()).replaceFirst("\\s+\\d?>.*$", "");
                        if (s.startsWith("./ledger ") || (shellBlock && isLedgerWord(s))) {
                            add(found, where, s);
                        }
                    }
                    continue;
                }
                Matcher m = CODE_SPAN.matcher(line);
                while (m.find()) {
                    String span = m.group(1).trim();
                    for (String segment : span.split("&&")) {
                        String s = segment.trim();
                        // A pipe into another tool (| jq ...), but not a synopsis's alternatives (a\|b).
                        s = s.split("(?<!\\\\)\\| ")[0].trim();
                        if (s.startsWith("./ledger ") || isLedgerWord(s)) {
                            add(found, where, s);
                        }
                    }
                }
            }
        }
        return found;
    }

    /** {@code ledger up --detach} (a command), not {@code ledger up: running} (its output) or {@code ledger-cli}. */
    private static boolean isLedgerWord(String s) {
        return s.matches("ledger [a-z][a-z-]*( .*)?") && !s.split(" ")[1].endsWith(":");
    }

    private static String stripComment(String line) {
        int hash = line.indexOf(" #");
        return hash < 0 ? line : line.substring(0, hash);
    }

    private static String withoutEnvironment(String s) {
        return s.replaceFirst("^([A-Z_][A-Z0-9_]*=\\S*\\s+)+", "");
    }

    private static void add(List<Quoted> found, String where, String command) {
        for (List<String> a : args(command)) {
            found.add(new Quoted(where, command, a));
        }
    }

    /**
     * The words after {@code ledger}: placeholders replaced by a value, a synopsis's optional parts ({@code [--json]})
     * included, its alternatives ({@code a\|b}) expanded into one command each, a trailing "…" dropped.
     */
    static List<List<String>> args(String command) {
        String s = command.replaceFirst("^(\\./)?ledger\\s+", "").replace("[", " ").replace("]", " ")
                .replaceAll("<[^>]*>", PLACEHOLDER_VALUE);
        List<List<String>> result = new ArrayList<>();
        result.add(new ArrayList<>());
        for (String word : s.trim().split("\\s+")) {
            if (word.isEmpty() || word.equals("…") || word.equals("...")) {
                continue;
            }
            if (word.contains("\\|")) {
                List<List<String>> expanded = new ArrayList<>();
                for (List<String> r : result) {
                    for (String alternative : word.split("\\\\\\|")) {
                        List<String> copy = new ArrayList<>(r);
                        copy.add(value(alternative));
                        expanded.add(copy);
                    }
                }
                result = expanded;
            } else {
                result.forEach(r -> r.add(value(word)));
            }
        }
        return result;
    }

    private static String value(String word) {
        return PLACEHOLDER.matcher(word).matches() ? PLACEHOLDER_VALUE : word;
    }

}
