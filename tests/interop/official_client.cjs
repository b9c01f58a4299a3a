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
//   auth-flows {settings, kinds}         each of the 13 completed through the outbox; prints
//                                        what each refusal said and what came back
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

// The outbox message the emulator "sent" last to `recipient` (of `kind`, when given).
async function lastMessage(recipient, kind) {
  const query = `recipient=${encodeURIComponent(recipient)}` + (kind ? `&kind=${kind}` : "");
  const { messages } = await emulator("GET", `/_emulator/outbox?${query}`);
  assert.ok(messages.length > 0, `no message to ${recipient} (${kind})`);
  return messages[messages.length - 1];
}

async function outboxSize(recipient) {
  const { messages } = await emulator(
    "GET",
    `/_emulator/outbox?recipient=${encodeURIComponent(recipient)}`,
  );
  return messages.length;
}

// Every one of the 13 calls of issue 11, completed through the emulator's outbox.
// argument: {settings: {phone, email, expired}, kinds: {...}} names the emulator's config
// changes and outbox kinds. Prints what each refusal said and what came back.
async function authFlows() {
  const { settings, kinds } = argument;
  const report = { calls: {} };
  const seen = (name, result) => {
    assert.equal(result.errors, null, `${name}: ${JSON.stringify(result.errors)}`);
    report.calls[name] = (report.calls[name] || 0) + 1;
    return result;
  };
  const phone = "+15550001234";
  const newPhone = "+15559990000";
  const email = "ada@example.com";
  const newEmail = "ada.new@example.com";
  const other = (code) => (code === "000000" ? "111111" : "000000");

  // Phone confirmation: sign-up by phone sends a code; verifyPhone exchanges it.
  await emulator("PATCH", "/_emulator/config", settings.phone);
  const phoneClient = newClient();
  const signedUp = await phoneClient.auth.signUpWithPhone(phone, PASSWORD, "Pho");
  assert.equal(signedUp.errors, null);
  assert.equal(signedUp.session, null);
  report.unverifiedSignIn = codes((await newClient().auth.signInWithPhone(phone, PASSWORD)).errors);
  const first = await lastMessage(phone, kinds.phoneVerification);
  report.wrongCode = codes((await phoneClient.auth.verifyPhone(phone, other(first.code))).errors);
  seen("resendVerificationCode", await phoneClient.auth.resendVerificationCode(phone));
  const resent = await lastMessage(phone, kinds.phoneVerification);
  assert.notEqual(resent.id, first.id);
  report.replacedCode = codes((await phoneClient.auth.verifyPhone(phone, first.code)).errors);
  const verified = seen("verifyPhone", await phoneClient.auth.verifyPhone(phone, resent.code));
  assert.equal(verified.user.phoneVerified, true);
  assert.ok(verified.session);
  assert.equal(phoneClient.auth.getSession().token, verified.session.token);
  report.reusedVerifyCode = codes((await phoneClient.auth.verifyPhone(phone, resent.code)).errors);

  // Sign-in codes, and a code's bounded attempts.
  const codeClient = newClient();
  seen("sendSignInCode", await codeClient.auth.sendSignInCode(phone));
  const signInCode = await lastMessage(phone, kinds.signInCode);
  const byCode = seen("signInWithCode", await codeClient.auth.signInWithCode(phone, signInCode.code));
  assert.equal(codeClient.auth.getSession().token, byCode.session.token);
  assert.equal((await codeClient.auth.getUserFromDB()).user.phone, phone);
  report.reusedSignInCode = codes((await newClient().auth.signInWithCode(phone, signInCode.code)).errors);
  seen("sendSignInCode", await codeClient.auth.sendSignInCode(phone));
  const guessed = await lastMessage(phone, kinds.signInCode);
  report.attempts = [];
  for (let i = 0; i < settings.phone.maxCodeAttempts; i += 1) {
    const tried = await newClient().auth.signInWithCode(phone, other(guessed.code));
    report.attempts.push(...codes(tried.errors));
  }
  const rightTooLate = await newClient().auth.signInWithCode(phone, guessed.code);
  report.rightCodeAfterAttempts = codes(rightTooLate.errors);

  // Reset by SMS code: the user's sessions end; the new password works, the old does not.
  seen("sendResetPwdCode", await codeClient.auth.sendResetPwdCode(phone));
  const resetCode = await lastMessage(phone, kinds.resetCode);
  seen("resetPwdWithCode", await newClient().auth.resetPwdWithCode(phone, resetCode.code, "phone pw 2"));
  report.sessionAfterCodeReset = codes((await codeClient.auth.getUserFromDB()).errors);
  report.oldPhonePassword = codes((await newClient().auth.signInWithPhone(phone, PASSWORD)).errors);
  const phoneUser = newClient();
  assert.equal((await phoneUser.auth.signInWithPhone(phone, "phone pw 2")).errors, null);

  // Change phone (the session and the current password); confirmed by a code to the new number.
  report.wrongCurrentPassword = codes((await phoneUser.auth.changePhone("not it", newPhone)).errors);
  const changedPhone = seen("changePhone", await phoneUser.auth.changePhone("phone pw 2", newPhone));
  report.changedPhoneAnswer = changedPhone.user.phone;
  const phoneChange = await lastMessage(newPhone, kinds.phoneVerification);
  seen("verifyPhone", await phoneUser.auth.verifyPhone(newPhone, phoneChange.code));
  report.phoneAfterChange = (await phoneUser.auth.getUserFromDB()).user.phone;

  // Email: resend the confirmation, then a magic link, a reset link, the changes.
  await emulator("PATCH", "/_emulator/config", settings.email);
  const emailClient = newClient();
  const pending = await emailClient.auth.signUpWithEmail(email, PASSWORD, "Ada");
  assert.equal(pending.errors, null);
  assert.equal(pending.session, null);
  const before = await outboxSize(email);
  seen("resendVerificationEmail", await emailClient.auth.resendVerificationEmail(email));
  assert.equal(await outboxSize(email), before + 1);
  const confirmation = await lastMessage(email, kinds.emailVerification);
  assert.equal((await emailClient.auth.getAuthGrant(confirmation.accessToken)).errors, null);

  seen("sendMagicLinkEmail", await emailClient.auth.sendMagicLinkEmail(email));
  const magic = await lastMessage(email, kinds.magicLink);
  const magicClient = newClient();
  const magicGrant = await magicClient.auth.getAuthGrant(magic.accessToken);
  assert.equal(magicGrant.errors, null);
  assert.equal(magicClient.auth.getSession().token, magicGrant.session.token);
  report.reusedMagicLink = codes((await newClient().auth.getAuthGrant(magic.accessToken)).errors);

  seen("sendResetPwdEmail", await emailClient.auth.sendResetPwdEmail(email));
  const resetLink = await lastMessage(email, kinds.resetLink);
  seen("resetPwdWithToken", await newClient().auth.resetPwdWithToken(resetLink.accessToken, "email pw 2"));
  report.reusedResetToken = codes((await newClient().auth.resetPwdWithToken(resetLink.accessToken, "email pw 3")).errors);
  report.sessionAfterLinkReset = codes((await magicClient.auth.getUserFromDB()).errors);
  const signedIn = newClient();
  assert.equal((await signedIn.auth.signInWithEmail(email, "email pw 2")).errors, null);
  const otherSession = newClient();
  assert.equal((await otherSession.auth.signInWithEmail(email, "email pw 2")).errors, null);

  report.wrongOldPassword = codes((await signedIn.auth.changePassword("email pw 3", "not it")).errors);
  seen("changePassword", await signedIn.auth.changePassword("email pw 3", "email pw 2"));
  assert.equal((await newClient().auth.signInWithEmail(email, "email pw 3")).errors, null);
  report.ownSessionAfterChange = (await signedIn.auth.getUserFromDB()).errors === null;
  report.otherSessionAfterChange = codes((await otherSession.auth.getUserFromDB()).errors);

  const changedEmail = seen("changeEmail", await signedIn.auth.changeEmail("email pw 3", newEmail));
  report.changedEmailAnswer = changedEmail.user.email;
  const emailChange = await lastMessage(newEmail, kinds.emailChange);
  const changeGrant = await signedIn.auth.getAuthGrant(emailChange.accessToken);
  assert.equal(changeGrant.errors, null);
  report.emailAfterChange = (await signedIn.auth.getUserFromDB()).user.email;

  // The send calls answer the same for an account that does not exist, and send nothing.
  const nobody = newClient();
  for (const [name, value] of [
    ["sendMagicLinkEmail", "nobody@example.com"],
    ["sendResetPwdEmail", "nobody@example.com"],
    ["resendVerificationEmail", "nobody@example.com"],
    ["sendSignInCode", "+15550009999"],
    ["sendResetPwdCode", "+15550009999"],
    ["resendVerificationCode", "+15550009999"],
  ]) {
    seen(name, await nobody.auth[name](value));
  }
  report.unknownMessages =
    (await outboxSize("nobody@example.com")) + (await outboxSize("+15550009999"));

  // Expired codes and links (a lifetime of 0 makes them expire at once).
  await emulator("PATCH", "/_emulator/config", settings.expired);
  seen("sendSignInCode", await nobody.auth.sendSignInCode(newPhone));
  const expiredCode = await lastMessage(newPhone, kinds.signInCode);
  report.expiredCode = codes((await newClient().auth.signInWithCode(newPhone, expiredCode.code)).errors);
  seen("sendResetPwdEmail", await nobody.auth.sendResetPwdEmail(newEmail));
  const expiredLink = await lastMessage(newEmail, kinds.resetLink);
  report.expiredResetToken = codes((await newClient().auth.resetPwdWithToken(expiredLink.accessToken, "email pw 4")).errors);
  report.malformedPhone = codes((await nobody.auth.sendSignInCode("12ab")).errors);
  report.malformedEmail = codes((await nobody.auth.sendMagicLinkEmail("not an email")).errors);
  return report;
}

const commands = {
  flow,
  "sign-in": signIn,
  user,
  "sign-out-others": signOutOthers,
  "endpoint-calls": endpointCalls,
  "endpoint-refused": endpointRefused,
  "auth-calls": authCalls,
  "auth-flows": authFlows,
};

commands[command]().then(
  (result) => process.stdout.write(JSON.stringify(result) + "\n"),
  (error) => {
    process.stderr.write((error && error.stack) || String(error));
    process.exit(1);
  },
);
