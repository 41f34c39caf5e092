package io.paymentledger.cli.support;

import static org.assertj.core.api.Assertions.fail;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/** The operator's documents in the checkout: README.md, runbooks/*.md, terraform/README.md. */
public final class Docs {

    private Docs() {}

    /** The checkout's root: the first directory up from here with runbooks/ and README.md. */
    public static Path repositoryRoot() {
        for (Path d = Path.of("").toAbsolutePath(); d != null; d = d.getParent()) {
            if (Files.isDirectory(d.resolve("runbooks")) && Files.isRegularFile(d.resolve("README.md"))) {
                return d;
            }
        }
        return fail("no runbooks/ and README.md in %s or any parent directory", Path.of("").toAbsolutePath());
    }

    /** README.md, then runbooks/*.md (sorted), then terraform/README.md when {@code withTerraform}. */
    public static List<Path> operatorDocs(boolean withTerraform) throws IOException {
        Path root = repositoryRoot();
        List<Path> docs = new ArrayList<>(List.of(root.resolve("README.md")));
        try (Stream<Path> runbooks = Files.list(root.resolve("runbooks"))) {
            runbooks.filter(p -> p.toString().endsWith(".md")).sorted().forEach(docs::add);
        }
        if (withTerraform) {
            docs.add(root.resolve("terraform/README.md"));
        }
        return docs;
    }
}
