// A real OpenID provider (oidc-provider, OpenID-certified) for authkit's social sign-in tests.
//
// Configured by one JSON document in OIDC_TEST_CONFIG (written by tests/support/oidc_fixture.py):
//   { "host", "port", "issuer", "keyFile",
//     "clients": [{ "client_id", "client_secret", "redirect_uris", "token_endpoint_auth_method"? }],
//     "accounts": [{ "id", "sub"?, "email", "email_verified", "name" }] }
// Storage is oidc-provider's in-memory adapter: a restart forgets sessions, grants and codes,
// but not the signing key, which lives in keyFile so tokens from before a restart still verify.
// The development interactions (login and consent pages) are on: any login with any password
// signs in as the account whose id was typed. An id not in "accounts" is an account too, with
// <id>@example.test as its verified address, so each test can sign in as users of its own.
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

import Provider from 'oidc-provider';

const config = JSON.parse(process.env.OIDC_TEST_CONFIG);

function signingKey(path) {
  if (existsSync(path)) return JSON.parse(readFileSync(path, 'utf8'));
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...privateKey.export({ format: 'jwk' }), alg: 'RS256', use: 'sig', kid: `test-${Date.now()}` };
  writeFileSync(path, JSON.stringify(jwk), { mode: 0o600 });
  return jwk;
}

const accounts = new Map(config.accounts.map((account) => [account.id, account]));

async function findAccount(ctx, id) {
  const account = accounts.get(id) ?? { id, email: `${id}@example.test`, email_verified: true, name: id };
  return {
    accountId: id,
    async claims() {
      const claims = { sub: account.sub ?? id };
      if (account.email !== undefined) {
        claims.email = account.email;
        claims.email_verified = account.email_verified ?? false;
      }
      if (account.name !== undefined) claims.name = account.name;
      return claims;
    },
  };
}

const provider = new Provider(config.issuer, {
  clients: config.clients.map((client) => ({
    token_endpoint_auth_method: 'client_secret_basic',
    ...client,
    grant_types: ['authorization_code'],
    response_types: ['code'],
    id_token_signed_response_alg: 'RS256',
  })),
  jwks: { keys: [signingKey(config.keyFile)] },
  findAccount,
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
  },
  // Most providers (Google among them) put the scope's claims in the id_token too.
  conformIdTokenClaims: false,
  responseTypes: ['code'],
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: true },
  },
  cookies: { keys: ['authkit-oidc-test-cookie-key'] },
  ttl: { AuthorizationCode: 60, IdToken: 300, AccessToken: 300, Interaction: 600, Session: 3600, Grant: 3600 },
});
// The iss authorization response parameter (RFC 9207) is always sent by oidc-provider 9 on code
// responses, and discovery says so (authorization_response_iss_parameter_supported).

provider.on('server_error', (ctx, error) => console.error('server_error', error));

const server = provider.listen(config.port, config.host, () => {
  console.log(`oidc-provider listening on ${config.issuer}`);
});

function stop() {
  server.close(() => process.exit(0));
  server.closeAllConnections?.();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
