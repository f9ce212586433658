//! Everything a vendor push writes, in one transaction.

use kenali_core::vendor::{VendorKyc, VendorVerdict};
use kenali_core::verification::{Details, ReviewSubject, VendorKycDetails};
use serde_json::json;

use super::faces::{FaceChecks, PushedImages};
use super::{Confirmation, Reason};
use crate::faces::ImageInput;
use crate::ledger::{self, Actor, NewVerification, Pii};
use crate::service::customers::lock_customer;
use crate::service::faces::{seal_images, store_captures, CaptureFiling};
use crate::service::nik::store_pii;
use crate::service::review::{open_item, NewReviewItem};
use crate::service::{Error, Result};
use crate::state::AppState;
use crate::store::customers::{self, CustomerRow};
use crate::store::integrations::{self as store, IntegrationRow, PushRow};

/// Everything a push writes, in one transaction.
pub(super) struct Recording<'a> {
    pub(super) integration: &'a IntegrationRow,
    pub(super) kyc: &'a VendorKyc,
    pub(super) key_id: &'a str,
    pub(super) iv: &'a str,
    pub(super) payload_mac: &'a str,
    pub(super) faces: FaceChecks,
    pub(super) verdict: VendorVerdict,
    pub(super) reasons: Vec<String>,
    pub(super) nik: String,
    /// The customer, not yet inserted when `new_customer`.
    pub(super) customer: CustomerRow,
    pub(super) new_customer: bool,
    /// Its personal data as recorded (a new customer's as it will be).
    pub(super) on_record: Pii,
    pub(super) images: PushedImages,
    pub(super) received_at: &'a str,
    /// The org's tier policy, as read when the push was judged.
    pub(super) policy: kenali_core::tier::TierPolicy,
}

impl Recording<'_> {
    pub(super) async fn write(self, state: &AppState, actor: &Actor) -> Result<Confirmation> {
        let Recording { customer, new_customer, on_record, images, received_at, policy, .. } = self;
        let org_id = &self.integration.org_id;
        let inputs: Vec<ImageInput> = images.selfie.iter().chain(&images.id_photo).cloned().collect();
        let kinds: Vec<&str> =
            images.selfie.iter().map(|_| "selfie").chain(images.id_photo.iter().map(|_| "id_photo")).collect();
        let mut sealed = Vec::with_capacity(inputs.len());
        for input in &inputs {
            sealed.push(seal_images(state, &customer, std::slice::from_ref(input)).await?);
        }
        let mut tx = state.store.begin().await?;
        let customer = if new_customer {
            if let Err(e) = customers::insert(&mut tx, &customer).await {
                return Err(if e.is_unique_violation() {
                    Error::Conflict {
                        code: "customer_conflict",
                        message: "another request created this customer meanwhile; push again".into(),
                    }
                } else {
                    e.into()
                });
            }
            crate::search_index::index_name(&mut tx, &state.keys, org_id, &customer.id, &on_record.full_name).await?;
            ledger::audit(
                &mut tx,
                actor,
                "customer.created",
                &customer.id,
                json!({"externalRef": customer.external_ref}),
            )
            .await?;
            customer
        } else {
            lock_customer(state, &mut tx, org_id, &customer.id).await?
        };
        if !store::record_iv(&mut tx, self.key_id, self.iv, received_at).await? {
            return Err(Error::Conflict { code: "replayed_iv", message: "this IV was used meanwhile".into() });
        }
        if !new_customer && on_record.nik.is_none() && self.verdict == VendorVerdict::Passed {
            // A NIK Kenali verified becomes the customer's.
            let pii = Pii { nik: Some(self.nik.clone()), ..on_record };
            store_pii(state, &mut tx, &customer, &pii).await?;
        }
        let details = VendorKycDetails {
            integration_id: self.integration.id.clone(),
            submission_id: self.kyc.submission_id.clone(),
            verdict: self.verdict,
            fields: self.kyc.fields.keys().cloned().collect(),
            face_match: self.faces.face_match,
            selfie_live: self.faces.selfie_live,
            model_id: self.faces.model_id,
            vendor_liveness_score: self.kyc.liveness_score,
            vendor_match_score: self.kyc.match_score,
            vendor_comparisons: self.kyc.comparisons.clone(),
            image_sha256: inputs.iter().map(|i| i.sha256.clone()).collect(),
        };
        let recorded = ledger::record_verification(
            &mut tx,
            actor,
            &customer,
            NewVerification {
                passed: self.verdict == VendorVerdict::Passed,
                reasons: self.reasons.clone(),
                details: Details::VendorKyc(details.clone()),
            },
            policy,
        )
        .await?;
        let verification_id = recorded.verification.id.clone();
        if self.verdict == VendorVerdict::RequiresReview {
            // The analyst sees both sides: the vendor's claims beside Kenali's checks.
            let sides = json!({
                "vendor": {"livenessScore": details.vendor_liveness_score, "matchScore": details.vendor_match_score,
                           "comparisons": details.vendor_comparisons},
                "kenali": {"faceMatch": details.face_match, "selfieLive": details.selfie_live,
                           "reasons": self.reasons},
            });
            open_item(
                &mut tx,
                NewReviewItem {
                    org_id,
                    customer_id: &customer.id,
                    kind: ReviewSubject::VendorKyc,
                    subject_id: &verification_id,
                    verification_id: &verification_id,
                    reasons: &self.reasons,
                    voters: &sides,
                },
            )
            .await?;
        }
        let mut uploads = Vec::with_capacity(sealed.len());
        for (images, kind) in sealed.into_iter().zip(kinds) {
            let filing = CaptureFiling {
                kind,
                verification_id: Some(&verification_id),
                retention_class: "onboarding",
                created_at: received_at,
            };
            uploads.push(store_captures(&mut tx, &customer, images, filing).await?);
        }
        ledger::audit(
            &mut tx,
            actor,
            "vendor_kyc.received",
            &verification_id,
            json!({"integrationId": self.integration.id, "submissionId": self.kyc.submission_id,
                   "customerId": customer.id, "verdict": self.verdict}),
        )
        .await?;
        let confirmation = Confirmation {
            status: "accepted",
            submission_id: Some(self.kyc.submission_id.clone()),
            customer_id: Some(customer.id.clone()),
            verification_id: Some(verification_id.clone()),
            verdict: Some(self.verdict),
            tier: Some(recorded.tier.as_str().to_string()),
            reasons: self.reasons.iter().map(|code| Reason::new(code, reason_message(code))).collect(),
            received_at: received_at.to_string(),
        };
        store::insert_push(
            &mut tx,
            &PushRow {
                integration_id: self.integration.id.clone(),
                submission_id: self.kyc.submission_id.clone(),
                org_id: org_id.clone(),
                payload_mac: self.payload_mac.to_string(),
                customer_id: Some(customer.id.clone()),
                verification_id: Some(verification_id),
                confirmation: serde_json::to_string(&confirmation).map_err(Error::internal)?,
                created_at: received_at.to_string(),
            },
        )
        .await?;
        tx.commit().await?;
        for uploaded in uploads {
            uploaded.committed();
        }
        Ok(confirmation)
    }
}

/// What each verdict reason means, for the confirmation.
fn reason_message(code: &str) -> &'static str {
    match code {
        "vendor_kyc_verified" => "every check Kenali made agrees with the vendor",
        "nik_date_of_birth_mismatch" => "the NIK's birth date differs from the pushed date of birth",
        "nik_gender_mismatch" => "the NIK's gender differs from the pushed gender",
        "face_mismatch" => "Kenali's face match of the selfie with the ID photo failed",
        "selfie_not_live" => "Kenali's anti-spoof model found the selfie not live",
        "customer_holds_other_nik" => "the customer already holds another NIK",
        "vendor_source_mismatch" => "the vendor's own source comparison found a field that differs",
        _ => "see the verification's details",
    }
}
