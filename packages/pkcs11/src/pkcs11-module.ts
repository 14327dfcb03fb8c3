/**
 * The part of a loaded PKCS#11 module that Rekey calls, declared here so that
 * pkcs11js types stay out of Rekey's own API. A pkcs11js `PKCS11` instance
 * satisfies it.
 *
 * pkcs11js 2.1.7 reports failures of `C_CreateObject`, `C_CopyObject` and
 * `C_SetAttributeValue` as plain errors without a numeric code, so the
 * adapter never calls them; `C_CreateObject` is listed for test fixtures only.
 */

/** A slot, session or object handle as pkcs11js represents it. */
export type Pkcs11Handle = Buffer;

/** One attribute of a template: a `CKA_*` type and, to set or match, a value. */
export interface Pkcs11Attribute {
  readonly type: number;
  readonly value?: number | boolean | string | Buffer;
}

/** An attribute read back from an object. */
export interface Pkcs11AttributeValue {
  readonly type: number;
  readonly value: Buffer;
}

/** A `CKM_*` mechanism with its parameter, if it takes one. */
export interface Pkcs11Mechanism {
  readonly mechanism: number;
  readonly parameter?: Buffer | number;
}

/** What `C_GetTokenInfo` tells about a token (the fields Rekey reads). */
export interface Pkcs11TokenInfo {
  /** Blank-padded to 32 bytes. */
  readonly label: string;
  readonly flags: number;
}

/** What `C_GetMechanismInfo` tells about a mechanism. */
export interface Pkcs11MechanismInfo {
  readonly minKeySize: number;
  readonly maxKeySize: number;
  readonly flags: number;
}

/**
 * The calls Rekey makes on a loaded PKCS#11 module. The parameters follow
 * the PKCS#11 functions one to one, hence more than three for some.
 */
export interface Pkcs11Module {
  C_Initialize(options?: { flags?: number }): void;
  C_Finalize(): void;
  /** Unloads the shared library (pkcs11js' `close`, not a PKCS#11 call). */
  close(): void;

  C_GetSlotList(tokenPresent?: boolean): Pkcs11Handle[];
  C_GetTokenInfo(slot: Pkcs11Handle): Pkcs11TokenInfo;
  C_GetMechanismInfo(
    slot: Pkcs11Handle,
    mechanism: number,
  ): Pkcs11MechanismInfo;
  C_InitToken(slot: Pkcs11Handle, soPin?: string, label?: string): string;
  C_InitPIN(session: Pkcs11Handle, pin?: string): void;

  C_OpenSession(slot: Pkcs11Handle, flags: number): Pkcs11Handle;
  C_CloseSession(session: Pkcs11Handle): void;
  /** Ends every session of the application on the slot; tests only. */
  C_CloseAllSessions(slot: Pkcs11Handle): void;
  C_Login(session: Pkcs11Handle, userType: number, pin?: string): void;
  /** Logs the whole application out; token set-up only. */
  C_Logout(session: Pkcs11Handle): void;

  C_FindObjectsInit(session: Pkcs11Handle, template: Pkcs11Attribute[]): void;
  C_FindObjects(session: Pkcs11Handle, maxObjectCount: number): Pkcs11Handle[];
  C_FindObjectsFinal(session: Pkcs11Handle): void;
  C_GetAttributeValue(
    session: Pkcs11Handle,
    object: Pkcs11Handle,
    template: Pkcs11Attribute[],
  ): Pkcs11AttributeValue[];
  C_CreateObject(
    session: Pkcs11Handle,
    template: Pkcs11Attribute[],
  ): Pkcs11Handle;
  C_DestroyObject(session: Pkcs11Handle, object: Pkcs11Handle): void;

  C_GenerateKeyAsync(
    session: Pkcs11Handle,
    mechanism: Pkcs11Mechanism,
    template: Pkcs11Attribute[],
  ): Promise<Pkcs11Handle>;
  C_WrapKeyAsync(
    session: Pkcs11Handle,
    mechanism: Pkcs11Mechanism,
    wrappingKey: Pkcs11Handle,
    key: Pkcs11Handle,
    wrappedKey: Buffer,
  ): Promise<Buffer>;
  C_UnwrapKeyAsync(
    session: Pkcs11Handle,
    mechanism: Pkcs11Mechanism,
    unwrappingKey: Pkcs11Handle,
    wrappedKey: Buffer,
    template: Pkcs11Attribute[],
  ): Promise<Pkcs11Handle>;
}
