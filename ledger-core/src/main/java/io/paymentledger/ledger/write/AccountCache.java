package io.paymentledger.ledger.write;

import io.paymentledger.ledger.account.AccountState;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The writer's bounded memory of accounts (least recently used out). Sound only because one writer owns
 * the accounts while it leads: it is emptied whenever that may not hold (a failed commit, a new term).
 */
final class AccountCache {

    private final LinkedHashMap<String, AccountState> map;

    AccountCache(int accountsMax) {
        this.map = new LinkedHashMap<>(1024, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<String, AccountState> eldest) {
                return size() > accountsMax;
            }
        };
    }

    AccountState get(String id) {
        return map.get(id);
    }

    void put(AccountState a) {
        map.put(a.id(), a);
    }

    void clear() {
        map.clear();
    }

    int size() {
        return map.size();
    }
}
