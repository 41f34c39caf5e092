package io.paymentledger.ledger.grpc;

import io.paymentledger.api.v1.AccountBalance;
import io.paymentledger.api.v1.AccountLookup;
import io.paymentledger.api.v1.CreateAccountResult;
import io.paymentledger.api.v1.CreateAccountsRequest;
import io.paymentledger.api.v1.CreateAccountsResponse;
import io.paymentledger.api.v1.CreateTransferResult;
import io.paymentledger.api.v1.CreateTransfersRequest;
import io.paymentledger.api.v1.CreateTransfersResponse;
import io.paymentledger.api.v1.Direction;
import io.paymentledger.api.v1.GetAccountBalancesRequest;
import io.paymentledger.api.v1.GetAccountBalancesResponse;
import io.paymentledger.api.v1.GetAccountTransfersRequest;
import io.paymentledger.api.v1.GetAccountTransfersResponse;
import io.paymentledger.api.v1.LedgerServiceGrpcService;
import io.paymentledger.api.v1.LookupAccountsRequest;
import io.paymentledger.api.v1.LookupAccountsResponse;
import io.paymentledger.api.v1.LookupStatus;
import io.paymentledger.api.v1.LookupTransfersRequest;
import io.paymentledger.api.v1.LookupTransfersResponse;
import io.paymentledger.api.v1.TransferLookup;
import io.paymentledger.ledger.Caller;
import io.paymentledger.ledger.Limits;
import io.paymentledger.ledger.access.Access;
import io.paymentledger.ledger.account.AccountSpec;
import io.paymentledger.ledger.account.AccountState;
import io.paymentledger.ledger.account.AccountStatus;
import io.paymentledger.ledger.account.AccountValidator;
import io.paymentledger.ledger.read.LedgerReader;
import io.paymentledger.ledger.transfer.TransferSpec;
import io.paymentledger.ledger.transfer.TransferStatus;
import io.paymentledger.ledger.transfer.TransferValidator;
import io.paymentledger.ledger.validation.Ids;
import io.paymentledger.ledger.write.AccountResult;
import io.paymentledger.ledger.write.TransferResult;
import io.paymentledger.ledger.write.WriteCommand;
import io.vertx.core.Future;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.server.StatusException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/** ledger.v1.LedgerService: request validation, then the writer (writes) or the reader (reads). */
public final class LedgerApi {

    private final LedgerReader reader;
    private final ReadGate gate;
    private final WriteTracing writes;
    private final Blocking blocking;

    public LedgerApi(WriteTracing writes, LedgerReader reader, ReadGate gate, Blocking blocking) {
        this.writes = writes;
        this.reader = reader;
        this.gate = gate;
        this.blocking = blocking;
    }

    public void bind(Unary unary) {
        unary.bind(LedgerServiceGrpcService.CreateAccounts, this::createAccounts);
        unary.bind(LedgerServiceGrpcService.CreateTransfers, this::createTransfers);
        unary.bind(LedgerServiceGrpcService.LookupAccounts, this::lookupAccounts);
        unary.bind(LedgerServiceGrpcService.LookupTransfers, this::lookupTransfers);
        unary.bind(LedgerServiceGrpcService.GetAccountTransfers, this::getAccountTransfers);
        unary.bind(LedgerServiceGrpcService.GetAccountBalances, this::getAccountBalances);
    }

    static void checkBatchSize(int size, String what) throws StatusException {
        if (size == 0) {
            throw Unary.invalid("no " + what + " in the request");
        }
        if (size > Limits.REQUEST_ITEMS_MAX) {
            throw Unary.invalid(size + " " + what + " in one request; at most " + Limits.REQUEST_ITEMS_MAX);
        }
    }

    Future<CreateAccountsResponse> createAccounts(CallContext ctx, CreateAccountsRequest req) throws StatusException {
        checkBatchSize(req.getAccountsCount(), "accounts");
        List<AccountSpec> specs = new ArrayList<>(req.getAccountsCount());
        AccountStatus[] pre = new AccountStatus[req.getAccountsCount()];
        for (int i = 0; i < req.getAccountsCount(); i++) {
            var a = req.getAccounts(i);
            AccountSpec spec = Protos.spec(a);
            specs.add(spec);
            pre[i] = a.hasBalance() && !a.getBalance().equals(io.paymentledger.api.v1.Balance.getDefaultInstance())
                    ? AccountStatus.BALANCE_MUST_BE_ZERO
                    : a.getTimestampNs() != 0 ? AccountStatus.TIMESTAMP_MUST_BE_ZERO
                    : AccountValidator.check(spec);
        }
        CompletableFuture<List<AccountResult>> done = new CompletableFuture<>();
        writes.submit(ctx, new WriteCommand.CreateAccounts(ctx.caller(), specs, pre, ctx.deadlineNanos(), done), done);
        return Future.fromCompletionStage(done, blocking.context()).map(results -> {
            CreateAccountsResponse.Builder out = CreateAccountsResponse.newBuilder();
            for (AccountResult r : results) {
                out.addResults(CreateAccountResult.newBuilder().setIndex(r.index()).setId(r.id())
                        .setStatus(Protos.proto(r.status())).setTimestampNs(r.timestampNs()));
            }
            return out.build();
        });
    }

    Future<CreateTransfersResponse> createTransfers(CallContext ctx, CreateTransfersRequest req) throws StatusException {
        checkBatchSize(req.getTransfersCount(), "transfers");
        List<TransferSpec> specs = new ArrayList<>(req.getTransfersCount());
        TransferStatus[] pre = new TransferStatus[req.getTransfersCount()];
        for (int i = 0; i < req.getTransfersCount(); i++) {
            var t = req.getTransfers(i);
            TransferSpec spec = Protos.spec(t);
            specs.add(spec);
            pre[i] = t.getTimestampNs() != 0 ? TransferStatus.TIMESTAMP_MUST_BE_ZERO : TransferValidator.check(spec);
        }
        CompletableFuture<List<TransferResult>> done = new CompletableFuture<>();
        writes.submit(ctx, new WriteCommand.CreateTransfers(ctx.caller(), specs, pre, ctx.deadlineNanos(), done), done);
        return Future.fromCompletionStage(done, blocking.context()).map(results -> {
            CreateTransfersResponse.Builder out = CreateTransfersResponse.newBuilder();
            for (TransferResult r : results) {
                CreateTransferResult.Builder b = CreateTransferResult.newBuilder().setIndex(r.index()).setId(r.id())
                        .setStatus(Protos.proto(r.status())).setTimestampNs(r.timestampNs());
                if (r.debitBalance() != null) {
                    b.setDebitAccountBalance(Protos.proto(r.debitBalance()));
                }
                if (r.creditBalance() != null) {
                    b.setCreditAccountBalance(Protos.proto(r.creditBalance()));
                }
                out.addResults(b);
            }
            return out.build();
        });
    }

    Future<LookupAccountsResponse> lookupAccounts(CallContext ctx, LookupAccountsRequest req) throws StatusException {
        checkBatchSize(req.getIdsCount(), "ids");
        gate.check(req.getRead());
        List<String> valid = req.getIdsList().stream().filter(Ids::isValid).toList();
        return gate.confirm(req.getRead(), blocking.run(() -> {
            Map<String, AccountState> found = valid.isEmpty() ? Map.of() : reader.accounts(valid);
            LookupAccountsResponse.Builder out = LookupAccountsResponse.newBuilder();
            for (String id : req.getIdsList()) {
                AccountLookup.Builder r = AccountLookup.newBuilder().setId(id);
                AccountState a = found.get(id);
                if (!Ids.isValid(id)) {
                    r.setStatus(LookupStatus.LOOKUP_INVALID_ID);
                } else if (!Access.mayRead(ctx.caller(), a)) {
                    // Missing and not the caller's to read are one answer: no existence oracle.
                    r.setStatus(LookupStatus.LOOKUP_NOT_FOUND);
                } else {
                    r.setStatus(LookupStatus.LOOKUP_FOUND).setAccount(Protos.proto(a));
                }
                out.addResults(r);
            }
            return out.build();
        }));
    }

    Future<LookupTransfersResponse> lookupTransfers(CallContext ctx, LookupTransfersRequest req) throws StatusException {
        checkBatchSize(req.getIdsCount(), "ids");
        gate.check(req.getRead());
        List<String> valid = req.getIdsList().stream().filter(Ids::isValidTransferLookup).toList();
        return gate.confirm(req.getRead(), blocking.run(() -> {
            Map<String, LedgerReader.TransferView> found = valid.isEmpty() ? Map.of() : reader.transfers(valid);
            LookupTransfersResponse.Builder out = LookupTransfersResponse.newBuilder();
            for (String id : req.getIdsList()) {
                TransferLookup.Builder r = TransferLookup.newBuilder().setId(id);
                LedgerReader.TransferView t = found.get(id);
                if (!Ids.isValidTransferLookup(id)) {
                    r.setStatus(LookupStatus.LOOKUP_INVALID_ID);
                } else if (t == null || !Access.maySee(ctx.caller(), t.debitOwner(), t.creditOwner())) {
                    r.setStatus(LookupStatus.LOOKUP_NOT_FOUND);
                } else {
                    r.setStatus(LookupStatus.LOOKUP_FOUND).setTransfer(Protos.proto(t.transfer()))
                            .setPendingState(Protos.proto(t.holdState())).setPendingRemaining(t.holdRemaining());
                }
                out.addResults(r);
            }
            return out.build();
        }));
    }

    Future<GetAccountTransfersResponse> getAccountTransfers(CallContext ctx, GetAccountTransfersRequest req) throws StatusException {
        if (!Ids.isValid(req.getAccountId())) {
            throw Unary.invalid("account_id: 1.." + Limits.ID_LENGTH_MAX + " characters of [A-Za-z0-9._:-]");
        }
        LedgerReader.Direction direction = switch (req.getDirectionValue()) {
            case Direction.DIRECTION_BOTH_VALUE -> LedgerReader.Direction.BOTH;
            case Direction.DIRECTION_DEBITS_VALUE -> LedgerReader.Direction.DEBITS;
            case Direction.DIRECTION_CREDITS_VALUE -> LedgerReader.Direction.CREDITS;
            default -> throw Unary.invalid("direction: unknown value " + req.getDirectionValue());
        };
        LedgerReader.Range range = range(req.getTimestampMinNs(), req.getTimestampMaxNs(), req.getReversed(),
                req.getPageSize(), req.getAccountId(), req.getPageToken());
        gate.check(req.getRead());
        Long code = req.hasCode() ? Protos.code(req.getCode()) : null;
        return gate.confirm(req.getRead(), blocking.run(() -> {
            requireReadableAccount(ctx.caller(), req.getAccountId());
            LedgerReader.Page<io.paymentledger.ledger.transfer.TransferRow> page =
                    reader.accountTransfers(req.getAccountId(), direction, code, range);
            GetAccountTransfersResponse.Builder out = GetAccountTransfersResponse.newBuilder();
            page.items().forEach(t -> out.addTransfers(Protos.proto(t)));
            return out.setNextPageToken(token(req.getAccountId(), page.continueAfterNs())).build();
        }));
    }

    Future<GetAccountBalancesResponse> getAccountBalances(CallContext ctx, GetAccountBalancesRequest req) throws StatusException {
        if (!Ids.isValid(req.getAccountId())) {
            throw Unary.invalid("account_id: 1.." + Limits.ID_LENGTH_MAX + " characters of [A-Za-z0-9._:-]");
        }
        if (req.hasAtTimestampNs() && req.getAtTimestampNs() <= 0) {
            throw Unary.invalid("at_timestamp_ns must be > 0");
        }
        LedgerReader.Range range = range(req.getTimestampMinNs(), req.getTimestampMaxNs(), req.getReversed(),
                req.getPageSize(), req.getAccountId(), req.getPageToken());
        gate.check(req.getRead());
        return gate.confirm(req.getRead(), blocking.run(() -> {
            requireReadableAccount(ctx.caller(), req.getAccountId());
            GetAccountBalancesResponse.Builder out = GetAccountBalancesResponse.newBuilder();
            if (req.hasAtTimestampNs()) {
                reader.balanceAt(req.getAccountId(), req.getAtTimestampNs()).ifPresent(p -> out.addBalances(balance(p)));
                return out.build();
            }
            LedgerReader.Page<LedgerReader.BalancePoint> page = reader.balanceHistory(req.getAccountId(), range);
            page.items().forEach(p -> out.addBalances(balance(p)));
            return out.setNextPageToken(token(req.getAccountId(), page.continueAfterNs())).build();
        }));
    }

    /** NOT_FOUND, with one message, for an account that does not exist and for one the caller may not read. */
    private void requireReadableAccount(Caller caller, String accountId) throws Exception {
        if (!Access.mayRead(caller, reader.account(accountId).orElse(null))) {
            throw new StatusException(GrpcStatus.NOT_FOUND, "account " + accountId + " not found");
        }
    }

    private static AccountBalance balance(LedgerReader.BalancePoint p) {
        return AccountBalance.newBuilder().setTransferId(p.transferId()).setTimestampNs(p.timestampNs())
                .setBalance(Protos.proto(p.balance())).build();
    }

    static LedgerReader.Range range(long min, long max, boolean reversed, int pageSize, String accountId, String pageToken)
            throws StatusException {
        if (min < 0 || max < 0 || (max > 0 && min > max)) {
            throw Unary.invalid("timestamp range: need 0 <= timestamp_min_ns <= timestamp_max_ns (0 = unbounded)");
        }
        if (pageSize < 0 || pageSize > Limits.PAGE_SIZE_MAX) {
            throw Unary.invalid("page_size must be 0.." + Limits.PAGE_SIZE_MAX + " (0 = " + Limits.PAGE_SIZE_DEFAULT + ")");
        }
        int limit = pageSize == 0 ? Limits.PAGE_SIZE_DEFAULT : pageSize;
        return new LedgerReader.Range(min, max, reversed, limit, parseToken(accountId, pageToken));
    }

    /** Longest page token accepted, in characters; longer is refused before it is decoded. */
    static final int PAGE_TOKEN_LENGTH_MAX = 128;

    /**
     * A cursor: the timestamp to continue after, bound to the account it pages through (a short digest of its id),
     * so a token is only ever good for the account it came from. It tells nothing the caller did not already read.
     */
    static String token(String accountId, long continueAfterNs) {
        return continueAfterNs == 0 ? "" : Base64.getUrlEncoder().withoutPadding()
                .encodeToString(("after:" + continueAfterNs + ":" + accountTag(accountId)).getBytes(StandardCharsets.US_ASCII));
    }

    static long parseToken(String accountId, String token) throws StatusException {
        if (token.isEmpty()) {
            return 0;
        }
        if (token.length() > PAGE_TOKEN_LENGTH_MAX) {
            throw Unary.invalid("page_token is not one this API issued (longer than " + PAGE_TOKEN_LENGTH_MAX + " characters)");
        }
        try {
            String s = new String(Base64.getUrlDecoder().decode(token), StandardCharsets.US_ASCII);
            String[] parts = s.split(":", -1);
            if (parts.length != 3 || !parts[0].equals("after") || !parts[2].equals(accountTag(accountId))) {
                throw new IllegalArgumentException();
            }
            long v = Long.parseLong(parts[1]);
            if (v <= 0) {
                throw new IllegalArgumentException();
            }
            return v;
        } catch (IllegalArgumentException e) {
            throw Unary.invalid("page_token is not one this API issued for account_id " + accountId);
        }
    }

    private static String accountTag(String accountId) {
        try {
            byte[] d = java.security.MessageDigest.getInstance("SHA-256").digest(accountId.getBytes(StandardCharsets.UTF_8));
            return java.util.HexFormat.of().formatHex(d, 0, 6);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no SHA-256", e);
        }
    }
}
