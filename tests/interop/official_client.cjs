// Drives the official JavaScript client (altogic@2.3.9), unchanged, against an Agnost server.
//
//   node official_client.cjs <command> <base url> <client key> [json argument]
//
// Commands:
//   flow                  the scripted flow; asserts as it goes
//   sign-in {email, password}            prints {token, creationDtm, sessions}
//   user {token}                         prints {user} or {errors}
//   sign-out-others {token}              signs out every listed session but its own
//   endpoint-calls {token, path, query, body, headers}
//                                        endpoint.get and endpoint.post with that session
//   endpoint-refused {token, path}       endpoint.get without a session, then with {token};
//                                        prints each answer and the session left after it
//   auth-calls {token, apiKey, calls: [[method, ...args], ...]}
//                                        calls each client.auth method in turn (with the
//                                        session {token}, if given); prints, for each, its
//                                        result and the session and user stored after it
//
// Prints one JSON document on stdout; exits non-zero when an assertion fails. `altogic` is
// found through NODE_PATH (the test installs it into a cache directory).
"use strict";

const assert = require("node:assert/strict");
const { createClient } = require("altogic");

const [command, baseUrl, clientKey, rawArgument] = process.argv.slice(2);
const argument = rawArgument ? JSON.parse(rawArgument) : {};
const PASSWORD = "correct horse";

// Node has no window.localStorage; the client takes any object with this interface.
function memoryStorage() {
  const items = new Map();
  return {
    getItem: (key) => (items.has(key) ? items.get(key) : null),
    setItem: (key, value) => items.set(key, String(value)),
    removeItem: (key) => items.delete(key),
  };
}

function newClient() {
  return createClient(baseUrl, clientKey, { localStorage: memoryStorage() });
}

function codes(errors) {
  return errors ? errors.items.map((item) => item.code) : [];
}

async function emulator(method, path, body) {
  const answer = await fetch(baseUrl + path, {
    method,
    headers: body ? { "Content-Type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  assert.ok(answer.ok, `${method} ${path}: ${answer.status}`);
  return answer.json();
}

async function flow() {
  const report = {};
  const first = newClient();
  const second = newClient();

  const signedUp = await first.auth.signUpWithEmail("ada@example.com", PASSWORD, {
    name: "Ada",
    favouriteColour: "green",
  });
  assert.equal(signedUp.errors, null);
  assert.ok(signedUp.session.token);
  report.userId = signedUp.user._id;

  const one = await first.auth.signInWithEmail("ada@example.com", PASSWORD);
  const two = await second.auth.signInWithEmail("ada@example.com", PASSWORD);
  assert.equal(one.errors, null);
  assert.equal(two.errors, null);
  assert.notEqual(one.session.token, two.session.token);
  assert.equal(first.auth.getSession().token, one.session.token);

  const listed = await second.auth.getAllSessions();
  assert.equal(listed.errors, null);
  assert.equal(listed.sessions.length, 3);
  assert.equal(listed.sessions[2].token, two.session.token);
  report.sessions = listed.sessions;

  const fromDb = await second.auth.getUserFromDB();
  assert.equal(fromDb.errors, null);
  assert.equal(fromDb.user._id, report.userId);
  assert.equal(fromDb.user.favouriteColour, "green");
  report.user = fromDb.user;

  const except = await second.auth.signOutAllExceptCurrent();
  assert.equal(except.errors, null);
  assert.equal((await second.auth.getAllSessions()).sessions.length, 1);

  const refused = await first.auth.getUserFromDB();
  assert.equal(refused.errors.status, 401);
  assert.deepEqual(codes(refused.errors), ["invalid_session_token"]);
  assert.equal(first.auth.getSession(), null); // the client invalidated it
  report.refused = refused.errors;

  const signedOut = await second.auth.signOut();
  assert.equal(signedOut.errors, null);
  assert.equal(second.auth.getSession(), null);
  const afterSignOut = await second.auth.getAllSessions();
  assert.deepEqual(codes(afterSignOut.errors), ["missing_session_token"]);

  await emulator("PATCH", "/_emulator/config", { emailConfirmation: true });
  const third = newClient();
  const pending = await third.auth.signUpWithEmail("bo@example.com", PASSWORD, "Bo");
  assert.equal(pending.errors, null);
  assert.equal(pending.session, null);
  const early = await third.auth.signInWithEmail("bo@example.com", PASSWORD);
  assert.deepEqual(codes(early.errors), ["email_not_verified"]);
  const { messages } = await emulator("GET", "/_emulator/outbox?recipient=bo@example.com");
  assert.equal(messages.length, 1);

  const grant = await third.auth.getAuthGrant(messages[0].accessToken);
  assert.equal(grant.errors, null);
  assert.equal(grant.user.emailVerified, true);
  assert.equal(third.auth.getSession().token, grant.session.token);
  assert.equal((await third.auth.getUserFromDB()).user.emailVerified, true);
  const reused = await third.auth.getAuthGrant(messages[0].accessToken);
  assert.deepEqual(codes(reused.errors), ["invalid_access_token"]);
  report.grant = { user: grant.user, session: grant.session };
  return report;
}

async function signIn() {
  const client = newClient();
  const { session, errors } = await client.auth.signInWithEmail(argument.email, argument.password);
  assert.equal(errors, null);
  const listed = await client.auth.getAllSessions();
  assert.equal(listed.errors, null);
  return { token: session.token, creationDtm: session.creationDtm, sessions: listed.sessions };
}

async function user() {
  const client = newClient();
  client.auth.setSession({ token: argument.token });
  const { user, errors } = await client.auth.getUserFromDB();
  return { user, errors };
}

async function signOutOthers() {
  const client = newClient();
  client.auth.setSession({ token: argument.token });
  const listed = await client.auth.getAllSessions();
  assert.equal(listed.errors, null);
  const others = listed.sessions.filter((session) => session.token !== argument.token);
  for (const session of others) {
    const { errors } = await client.auth.signOut(session.token);
    assert.equal(errors, null);
  }
  assert.equal((await client.auth.getUserFromDB()).errors, null); // still signed in
  return { signedOut: others.map((session) => session.creationDtm) };
}

function clientWith(token) {
  const client = newClient();
  if (token) client.auth.setSession({ token });
  return client;
}

async function endpointCalls() {
  const { token, path, query, body, headers } = argument;
  const client = clientWith(token);
  const got = await client.endpoint.get(path, query, headers);
  const posted = await client.endpoint.post(path, body, query, headers);
  return { get: got, post: posted, sessionAfter: client.auth.getSession() };
}

async function endpointRefused() {
  const { token, path } = argument;
  const anonymous = clientWith(null);
  const missing = await anonymous.endpoint.get(path);
  const client = clientWith(token);
  const invalid = await client.endpoint.get(path);
  const sessionAfter = client.auth.getSession();
  const next = await client.endpoint.get(path); // the refused session is no longer sent
  return { missing, invalid, sessionAfter, next };
}

async function authCalls() {
  const { token, apiKey, calls } = argument;
  const options = { localStorage: memoryStorage() };
  if (apiKey) options.apiKey = apiKey;
  const client = createClient(baseUrl, clientKey, options);
  if (token) client.auth.setSession({ token });
  const results = [];
  for (const [name, ...args] of calls) {
    const result = await client.auth[name](...args);
    results.push({ result, session: client.auth.getSession(), user: client.auth.getUser() });
  }
  return results;
}

const commands = {
  flow,
  "sign-in": signIn,
  user,
  "sign-out-others": signOutOthers,
  "endpoint-calls": endpointCalls,
  "endpoint-refused": endpointRefused,
  "auth-calls": authCalls,
};

commands[command]().then(
  (result) => process.stdout.write(JSON.stringify(result) + "\n"),
  (error) => {
    process.stderr.write((error && error.stack) || String(error));
    process.exit(1);
  },
);
